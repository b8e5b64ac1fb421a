"""Refusals that are neither invalid input (ValidationError → 422) nor a missing object (NotFound → 404).

app.errors answers them app-wide: the JSON error shape on the API, the error page in the browser, with the status.
"""


class Conflict(Exception):
    """Valid input that clashes with what is stored: a taken name, history that still references a row (409)."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class Forbidden(PermissionError):
    """The actor may see this object but not change it, e.g. someone else's shared saved search (403)."""
