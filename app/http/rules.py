"""What every request and response of the service gets, whichever of its apps serves it (app, app.hooks)."""
from flask import abort, request
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
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
)


def security_headers(response):
    """after_request: SECURITY_HEADERS on every response, unless its view set its own. (One pass over the
    headers: setdefault looks each name up and raises an exception inside werkzeug for every one that is
    absent.)"""
    present = set(response.headers.keys(lower=True))
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            response.headers.add(name, value)
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
