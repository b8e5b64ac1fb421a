"""Reading request bodies: the one place that turns raw bytes into a JSON object or a clear 400."""
import json

from flask import abort, request


def json_body():
    """The request's JSON object, or a 400 that says what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        abort(400, description="The request body is empty; send a JSON object.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        abort(400, description="The request body is not UTF-8.")
    except json.JSONDecodeError as exc:
        abort(400, description="The request body is not valid JSON: %s (line %d, column %d)." % (exc.msg, exc.lineno, exc.colno))
    if not isinstance(body, dict):
        abort(400, description="The request body must be a JSON object, not %s." % _json_kind(body))
    return body


def _json_kind(value):
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(type(value), "null")
