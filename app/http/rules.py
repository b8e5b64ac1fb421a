"""What every request and response of the service gets, whichever of its apps serves it (app, app.hooks)."""
from flask import abort, g, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from app.fields import MAX_ID


def reject_nul_characters():
    """before_request: no path, query or form value may carry NUL: PostgreSQL cannot store it and no real
    client sends it."""
    # The raw query string, not request.args: parsing it cost every webhook more than its HMAC check.
    query = request.query_string.lower()
    values = [request.path]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.values(), *request.form.keys()]
    if b"\x00" in query or b"%00" in query or any("\x00" in value for value in values):
        abort(400, description="NUL (\\u0000) characters are not allowed in the URL or form fields.")


SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    # base-uri and form-action do not fall back to default-src: without them an injected <base> or <form> could
    # send the page's links or a form (with its CSRF token) elsewhere.
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
     "base-uri 'none'; form-action 'self'"),
)
# Files that are the same for everyone and may be cached wherever they are fetched.
CACHEABLE_ENDPOINTS = {"static", "assets.plotly_js", "api.docs.docs_asset"}


def security_headers(response):
    """after_request: SECURITY_HEADERS on every response, unless its view set its own. (One pass over the
    headers: setdefault looks each name up and raises an exception inside werkzeug for every one that is
    absent.)"""
    present = set(response.headers.keys(lower=True))
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            response.headers.add(name, value)
    return response


def no_store_when_authenticated(response):
    """after_request (main app): a response to a logged-in user or a token, and the login page (its CSRF token
    belongs to one session), is kept by no cache: not the browser's (the back button on a shared computer after
    logout), not a proxy's. Static files stay cacheable; a view that set its own Cache-Control keeps it."""
    authenticated = getattr(g, "actor", None) is not None or request.endpoint == "auth.login"
    if authenticated and request.endpoint not in CACHEABLE_ENDPOINTS and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


class IdConverter(BaseConverter):
    """Database ids in URLs: ASCII digits only (Python's \\d and int() also take "１" and "١"); a number past
    64 bits is a 404 before it reaches the database."""

    regex = r"[0-9]{1,30}"
    weight = 50

    def to_python(self, value):
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise NotFound("No object with id %s." % value)
        return number

    def to_url(self, value):
        return str(int(value))
