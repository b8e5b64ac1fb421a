"""Change Tracker: a change ledger for Jenkins fleets.

The capabilities (app.accounts, app.ledger, app.correlation, app.polling, app.ingest, app.ops) import neither Flask
nor the delivery packages (app.web, app.api, app.hooks, app.http), so the CLI, the worker, the API and the pages all
call the same functions; tests/test_layout.py holds those walls. Flask is imported only inside create_app.
"""
import logging
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The release (semantic versioning; tagged vX.Y.Z, what changed in CHANGELOG.md): setup.cfg, /healthz, the API docs,
# /metrics, the pollers' User-Agent and the shared library's (io.changetracker.LibraryVersion) all say this one.
__version__ = "0.2.2"


def create_app(test_config=None):
    """The application factory: defaults, then CHANGETRACKER_* environment, then ``test_config``."""
    from flask import Flask

    from app import config, db, hooks, web
    from app.accounts import access, users
    from app.api import create_blueprint as api_blueprint
    from app.http import access_log, connections, errors, guard, health, metrics, rules
    from app.http.extensions import csrf, limiter, login_manager
    from app.ledger import unplanned
    from app.web import (
        account,
        admin,
        assets,
        auth,
        catalogue,
        comments,
        csv_exchange,
        fleet,
        ingest,
        ledger,
        pages,
        suspects,
    )

    app = Flask(
        __name__,
        instance_path=os.environ.get("CHANGETRACKER_INSTANCE_PATH") or os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    app.config.from_mapping(config.load(app.instance_path, test_config))
    app.url_map.converters["id"] = rules.IdConverter
    app.config["NO_DATABASE_ENDPOINTS"] = access.NO_DATABASE
    app.json.sort_keys = False
    if not app.debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    metrics.instrument(app)
    access_log.install(app)
    db.bind(app.config)
    unplanned.configure(config.unplanned_window(app.config))
    connections.connect_per_request(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "auth.login"

    # The session and the remember cookie hold "<id>:<session version>" (User.get_id): an ended session no longer
    # loads its user.
    login_manager.user_loader(users.session_user)

    app.before_request(rules.reject_nul_characters)
    app.before_request(guard.enforce)
    app.after_request(rules.security_headers)
    app.after_request(rules.no_store_when_authenticated)
    errors.register(app)
    web.register(app)

    for blueprint in (health.bp, ingest.bp, assets.bp, auth.bp, pages.bp, ledger.bp, csv_exchange.bp, suspects.bp,
                      catalogue.bp, comments.bp, account.bp, admin.bp, fleet.bp, api_blueprint()):
        app.register_blueprint(blueprint)
    app.wsgi_app = hooks.Mount(app.wsgi_app, hooks.create_hooks_app(app))
    return app
