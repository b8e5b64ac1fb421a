"""Request bodies and response shapes: the one place that turns raw bytes into a JSON object or a clear 400,
and the ``{"items": [...]}`` envelope of every list."""
from flask import abort, request
from marshmallow import Schema, fields

from app.fields import JsonRefused, Text, loads_json


def json_body():
    """The request's JSON object, or a 400 that says what is wrong with it."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        abort(400, description="The request body is empty; send a JSON object.")
    try:
        body = loads_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        abort(400, description="The request body is not UTF-8.")
    except JsonRefused as exc:
        abort(400, description="The request body is not valid JSON: %s" % exc)
    if not isinstance(body, dict):
        abort(400, description="The request body must be a JSON object, not %s." % _json_kind(body))
    return body


def _json_kind(value):
    return {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(type(value), "null")


def items_of(schema, name, cursor=False):
    """A response schema ``{"items": [schema...]}`` (plus ``next_cursor`` for paged lists)."""
    shape = {"items": fields.List(fields.Nested(schema), required=True)}
    if cursor:
        shape["next_cursor"] = Text(allow_none=True, required=True,
                                    metadata={"description": "pass as cursor for the next page; null at the end"})
    return Schema.from_dict(shape, name=name)
