"""Flask extensions, created unbound here and bound to the app inside create_app()."""
import flask_limiter
from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, except that its before_request check skips blueprints that meter themselves (the webhook
    receivers, app.hooks): it enforces no default or application limits there, and resolving that it has
    nothing to do costs a machine endpoint more than its own budget check does."""

    def __init__(self, *args, self_metered_blueprints=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.self_metered_blueprints = frozenset(self_metered_blueprints)

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        if in_middleware and request.blueprint in self.self_metered_blueprints:
            return None
        return super()._check_request_limit(callable_name, in_middleware)


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the work Flask does per request when there is no session at all
    (webhook senders, API clients with tokens, probes): building a signer to read no cookie, and working out
    every cookie setting to then set none. The outcome is Flask's own in both cases."""

    def open_session(self, app, request):
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, self_metered_blueprints=("hooks",))
