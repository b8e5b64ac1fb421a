"""Change Tracker: a change ledger for Jenkins fleets."""
import logging
import os

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    """The application factory: defaults, then CHANGETRACKER_* environment, then ``test_config``."""
    from app import access, config, db, errors, health
    from app.api import create_blueprint as api_blueprint
    from app.extensions import csrf, limiter, login_manager
    from app.models import User
    from app.web import account, admin, assets, auth, pages

    app = Flask(
        __name__,
        instance_path=os.environ.get("CHANGETRACKER_INSTANCE_PATH") or os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    app.config.from_mapping(config.load(app.instance_path, test_config))
    app.config["NO_DATABASE_ENDPOINTS"] = access.NO_DATABASE
    app.json.sort_keys = False
    if not app.debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def _load_user(user_id):
        return User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712

    app.before_request(access.enforce)
    app.after_request(_security_headers)
    errors.register(app)

    for blueprint in (health.bp, assets.bp, auth.bp, pages.bp, account.bp, admin.bp, api_blueprint()):
        app.register_blueprint(blueprint)
    return app


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    )
    return response
