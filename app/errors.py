"""Refusals that are not invalid input (marshmallow's ValidationError → 422): a missing object (404), a clash
with what is stored (409), an action the actor may not take on this object (403).

Every capability raises these; app.http.errors answers them app-wide: the JSON error shape on the API, the error
page in the browser, with the status.
"""


class NotFound(LookupError):
    """No such object, or none the actor may know of (404)."""


class Conflict(Exception):
    """Valid input that clashes with what is stored: a taken name, history that still references a row (409)."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class Forbidden(PermissionError):
    """The actor may see this object but not change it, e.g. someone else's shared saved search (403)."""
