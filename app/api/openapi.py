"""The OpenAPI document, generated from the marshmallow schemas each API view declares with ``@doc``.

apispec's MarshmallowPlugin turns the schemas into components and query parameters; the walk over
the app's URL map makes every /api/v1 route appear (a test fails when one is undocumented).
"""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import Schema, fields

from app import __version__

VERSION = __version__  # the release; the paths say the API's major version (/api/v1)
ERROR_TEXT = {
    400: "Malformed request (body not a JSON object, bad CSRF token, a NUL character in the URL or a field)",
    401: "Missing, invalid, expired or revoked token",
    403: "Role or token scope too small",
    404: "No such object",
    409: "Conflicts with existing data",
    413: "Body too large",
    422: "Invalid fields; `errors` maps each field to its messages",
}


class ErrorSchema(Schema):
    code = fields.Integer(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(required=True, metadata={"description": "field name → list of messages"})
    created = fields.Integer(metadata={"description": "CSV import only: 0, nothing was written"})
    rows = fields.List(fields.Dict(), metadata={"description": "CSV import only: every problem as {row, field, message}"})


def doc(summary, query=None, body=None, response=None, status=200, errors=(401, 403), description=None,
        content_type="application/json", body_content_type="application/json", also=()):
    """Declare what an API view takes and returns; the view itself stays unchanged. ``also``: other success
    statuses answered with the same response (e.g. 200 when a create finds what it was asked to create)."""
    def attach(view):
        view.openapi = {
            "summary": summary, "description": description or (view.__doc__ or "").strip() or None,
            "query": query, "body": body, "response": response, "status": status, "errors": tuple(errors),
            "content_type": content_type, "body_content_type": body_content_type, "also": tuple(also),
        }
        return view
    return attach


def build_spec(app):
    spec = APISpec(
        title="Change Tracker API", version=VERSION, openapi_version="3.0.3",
        info={"description": "A change ledger for Jenkins fleets. Authenticate with `Authorization: Bearer <token>` "
                             "(create one with `changetracker tokens create` or on /account/tokens)."},
        servers=[{"url": "/"}],
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1") or rule.endpoint.endswith("openapi_document"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None)
        if meta is None:
            continue
        operations = {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = _operation(rule, meta)
        spec.path(path=_openapi_path(rule.rule), operations=operations)
    return spec.to_dict()


def _operation(rule, meta):
    parameters = [{"in": "path", "name": name, "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1} if _is_int(rule, name) else {"type": "string"}}
                  for name in sorted(rule.arguments)]
    if meta["query"] is not None:
        parameters.append({"in": "query", "schema": meta["query"]})
    operation = {
        "summary": meta["summary"],
        "tags": [rule.rule.split("/")[3]],
        "operationId": rule.endpoint.replace(".", "_"),
        "security": [{"bearer": []}],
        "parameters": parameters,
        "responses": {},
    }
    if meta["description"]:
        operation["description"] = meta["description"]
    if meta["body"] is not None:
        body = meta["body"]
        content = {"schema": body} if not isinstance(body, dict) else body
        operation["requestBody"] = {"required": True, "content": {meta["body_content_type"]: content}}
    if meta["status"] == 204:
        operation["responses"]["204"] = {"description": "Done"}
    else:
        response = meta["response"]
        if isinstance(response, dict):
            content = response
        else:
            content = {meta["content_type"]: {"schema": response}} if response is not None else {}
        for code in (meta["status"],) + meta["also"]:
            operation["responses"][str(code)] = {"description": "Success", "content": content}
    errors = set(meta["errors"]) | ({422} if meta["query"] is not None or meta["body"] is not None else set())
    errors.add(400)  # every request: NUL characters are refused anywhere in the path or query (app.__init__)
    if meta["body"] is not None:
        errors.add(413)
    if rule.arguments:
        errors.add(404)
    for code in sorted(errors):
        operation["responses"][str(code)] = {
            "description": ERROR_TEXT[code], "content": {"application/json": {"schema": "Error"}}}
    return operation


def _schema_name(schema):
    """Component names: the class name without "Schema"; a partial (PATCH) variant gets "Patch"."""
    name = resolve_schema_cls(schema).__name__
    name = name[:-len("Schema")] if name.endswith("Schema") and name != "Schema" else name
    return name + "Patch" if isinstance(schema, Schema) and schema.partial else name


def _is_int(rule, name):
    return type(rule._converters[name]).__name__ in ("IntegerConverter", "IdConverter")


def _openapi_path(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
