"""The OpenAPI document: every API route is in it, the live API keeps its promises (schemathesis), and no value
in any parameter or body field gets a 5xx (hypothesis with tests/hostile.py)."""
import csv
import io
import json
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)
from schemathesis.generation import GenerationMode

from app.accounts.audit import Actor
from app.ledger.events import record_event
from tests import hostile
from tests.conftest import connected

UNDOCUMENTED = {"api.docs.openapi_document", "api.docs.docs_page", "api.docs.docs_asset"}
# Every date-time schemathesis generates is one of tests/hostile.py's: the ends of what datetime represents, in
# any offset, instants UTC cannot hold, impossible dates.
schemathesis.openapi.format("date-time", hostile.times)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_api_route_is_documented(app, client, auth):
    spec = client.get("/api/v1/openapi.json", headers=auth.headers(role="viewer", scope="read")).json
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint in UNDOCUMENTED:
            continue
        path = rule.rule
        for name in rule.arguments:
            for converter in ("", "id:", "path:"):
                path = path.replace("<%s%s>" % (converter, name), "{%s}" % name)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (path, method) not in documented:
                missing.append("%s %s" % (method, path))
    assert not missing
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_docs_page_is_served_offline(client, auth):
    auth.login("reader", role="viewer")
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html and "http" not in html.split("<main", 1)[1].split(">", 1)[1].split("</main>")[0].replace("/api/v1", "")
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200


@pytest.mark.parametrize("role, scope", [("admin", "admin")])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, client, auth, live_server, role, scope):
    token = auth.token(role=role, scope=scope, username="fuzzer")
    headers = {"Authorization": "Bearer " + token}
    with connected(app):
        first, _ = record_event({"title": "seed", "agents": ["linux-01"], "tools": ["jdk"], "tags": ["t"]}, Actor("t"))
        record_event({"title": "rollback", "reverts": first["id"], "type": "rollback"}, Actor("t"))
    spec = client.get("/api/v1/openapi.json", headers=headers).json
    schema = schemathesis.openapi.from_dict(spec)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "DELETE" and "tokens" in operation.path:
            continue  # would revoke the fuzzer's own token mid-run; revocation has its own tests

        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS, timeout=30)

        # Schema-violating cases (wrong types, out-of-range numbers, missing fields): refused, never a 5xx.
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
        def check_negative(case):
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=[not_a_server_error], timeout=30)

        for run in (check, check_negative):
            try:
                run()
            except Exception as exc:  # collect per operation so one run reports them all
                failures.append("%s %s: %s" % (operation.method.upper(), operation.path, str(exc)[:2000]))
    assert not failures, "\n\n".join(failures)


# --- hostile values in every parameter and body field (issue 14): a 4xx with the JSON error shape, never a 5xx ----

def seed_ledger(app, client, headers):
    """One of each thing the operations address, so hostile values also reach the paths that find something."""
    with connected(app):
        first, _ = record_event({"title": "seed", "agents": ["linux-01"], "tools": ["jdk"], "toolchains": ["java"],
                                 "tags": ["t"], "occurred_at": "2026-11-20T10:00:00Z"}, Actor("t"))
        record_event({"title": "rollback", "reverts": first["id"], "type": "rollback", "agents": ["linux-01"]},
                     Actor("t"))
    client.post("/api/v1/events/%d/comments" % first["id"], json={"body": "seen"}, headers=headers)
    client.post("/api/v1/saved-searches", json={"name": "mine", "query": "agent=linux-01"}, headers=headers)
    client.post("/api/v1/sources", json={"name": "ci", "kind": "jenkins", "secret": "s" * 20}, headers=headers)
    return {"integer": [str(first["id"]), "1", "2"], "string": ["linux-01", "jdk", "java", "ci", "fuzzer"]}


def resolve(spec, schema):
    while "$ref" in (schema or {}):
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema or {}


def plausible(spec, schema):
    """A value the JSON schema describes (enough for the other fields of a body to be checked past their types)."""
    schema = resolve(spec, schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return st.lists(plausible(spec, schema.get("items", {})), max_size=2)
    if kind == "object":
        return st.just({})
    if kind == "integer":
        return st.integers(min_value=1, max_value=3)
    if kind == "boolean":
        return st.booleans()
    if schema.get("format") == "date-time":
        return st.sampled_from(["2026-11-20T10:00:00Z", "2026-11-19T10:00:00+01:00"])
    if schema.get("format") == "url":
        return st.just("https://ci.example.com/job/app/1/")
    return st.sampled_from(["linux-01", "jdk", "a passphrase long enough", "note"])


def hostile_request(spec, path, method, operation, known):
    """A strategy of (path, query, body, content type) for one operation: its parameters and body fields plausible
    or hostile, and at most one body field's JSON replaced by raw hostile JSON (NaN, 5,000 digits, deep nesting)."""
    parameters = operation.get("parameters", [])

    @st.composite
    def build(draw):
        url = path
        for parameter in (p for p in parameters if p["in"] == "path"):
            kind = parameter.get("schema", {}).get("type", "string")
            value = draw(st.one_of(st.sampled_from(known[kind]), hostile.query_values))
            url = url.replace("{%s}" % parameter["name"], quote(value, safe="") or "x")
        query = {}
        for parameter in (p for p in parameters if p["in"] == "query"):
            if draw(st.booleans()):
                value = draw(st.one_of(plausible(spec, parameter.get("schema")), hostile.query_values))
                query[parameter["name"]] = [str(v) for v in value] if isinstance(value, list) else str(value)
        body = operation.get("requestBody", {}).get("content", {})
        if "text/csv" in body:
            return url, query, draw(csv_files()), "text/csv"
        if "application/json" not in body:
            return url, query, None, None
        if draw(st.integers(0, 9)) == 0:  # the whole body
            return url, query, draw(hostile.raw_json), "application/json"
        properties = resolve(spec, body["application/json"]["schema"]).get("properties", {})
        document = {name: draw(plausible(spec, schema)) for name, schema in properties.items() if draw(st.booleans())}
        if properties:
            name = draw(st.sampled_from(sorted(properties)))
            where = draw(st.sampled_from(["field", "item", "member"]))
            slot = {"field": hostile.PLACEHOLDER, "item": [hostile.PLACEHOLDER], "member": {"k": hostile.PLACEHOLDER}}
            document[name] = slot[where]
            return url, query, hostile.substitute(document, draw(hostile.raw_json)), "application/json"
        return url, query, json.dumps(document), "application/json"

    return build()


@st.composite
def csv_files(draw):
    columns = draw(st.lists(st.sampled_from(["title", "occurred_at", "ended_at", "agents", "tools", "metadata",
                                             "changes", "reverts", "id", "severity"]), min_size=1, max_size=4,
                            unique=True))
    cells = [draw(st.one_of(hostile.query_values, hostile.raw_json)) for _ in columns]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([columns, cells])
    return buffer.getvalue()


def test_hostile_values_in_any_parameter_or_body_field_never_get_a_5xx(app, client, auth):
    """Every documented operation, its path, query and body values drawn from tests/hostile.py (instants UTC
    cannot hold, nesting thousands deep, lone surrogates, numbers past 64 bits, NaN, non-ASCII digits, forged
    cursors, names against the name rules): each answer is below 500 and, when refused, the usual JSON error."""
    token = auth.token(role="admin", scope="admin", username="fuzzer")
    headers = {"Authorization": "Bearer " + token}
    known = seed_ledger(app, client, headers)
    spec = client.get("/api/v1/openapi.json", headers=headers).json
    failures = []
    for path, operations in sorted(spec["paths"].items()):
        for method, operation in sorted(operations.items()):
            if method == "delete" and path == "/api/v1/tokens/{token_id}":
                continue  # would revoke the fuzzer's own token; ids in URLs are covered by the other routes

            @settings(max_examples=50, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(request=hostile_request(spec, path, method, operation, known))
            def check(request):
                url, query, body, content_type = request
                response = client.open(url, method=method.upper(), query_string=query, data=body,
                                       headers={**headers, **({"Content-Type": content_type} if body else {})})
                response.get_data()  # a streamed answer (export.csv) must not break after its first chunk
                assert response.status_code < 500, (url, query, (body or "")[:300], response.get_data(as_text=True))
                if response.status_code >= 400:
                    assert set(response.json) >= {"code", "message", "errors"}

            try:
                check()
            except Exception as exc:  # collect per operation so one run reports them all
                failures.append("%s %s: %s" % (method.upper(), path, str(exc)[:3000]))
    assert not failures, "\n\n".join(failures)


def test_every_operation_with_one_hostile_value_in_every_field(app, client, auth):
    """The same value in every path, query and body field of every operation at once, for each of
    tests/hostile.py's kinds (as query text and as raw JSON): below 500 and the JSON error shape."""
    headers = {"Authorization": "Bearer " + auth.token(role="admin", scope="admin", username="fuzzer")}
    seed_ledger(app, client, headers)
    spec = client.get("/api/v1/openapi.json", headers=headers).json
    failures = []
    for path, operations in sorted(spec["paths"].items()):
        for method, operation in sorted(operations.items()):
            if method == "delete" and path == "/api/v1/tokens/{token_id}":
                continue
            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            names = sorted(resolve(spec, body_schema).get("properties", {})) if body_schema else []
            for text, raw in zip(hostile.SWEEP_TEXT, hostile.SWEEP_JSON * 3):
                url = path
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        url = url.replace("{%s}" % parameter["name"], quote(text, safe="") or "x")
                query = {p["name"]: text for p in operation.get("parameters", []) if p["in"] == "query"}
                body = "{%s}" % ", ".join("%s: %s" % (json.dumps(name), raw) for name in names) if names else None
                response = client.open(url, method=method.upper(), query_string=query, data=body,
                                       headers={**headers, **({"Content-Type": "application/json"} if body else {})})
                response.get_data()
                if response.status_code >= 500 or (response.status_code >= 400 and "code" not in response.json):
                    failures.append("%s %s with %r / %r: %d" % (method.upper(), path, text[:40], raw[:40],
                                                                response.status_code))
    assert not failures, "\n".join(failures)
