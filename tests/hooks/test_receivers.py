"""The webhook receivers: real Jenkins and registry payloads accepted into the inbox, every bad input refused
with nothing stored."""
import hashlib
import json
import logging

import pytest

from app.models import InboxItem
from tests.conftest import connected
from tests.webhook_support import REGISTRY_TYPE, SECRET, deliver, fixture_bytes, make_source, signature

NOTIFICATION = "notification-plugin-completed.json"
PUSH = "docker-registry-notification-push-envelope.json"
PULL = "docker-registry-notification-pull.json"


def stored(app):
    with connected(app):
        return list(InboxItem.select().order_by(InboxItem.id))


@pytest.mark.parametrize("how", ["hmac", "bearer", "token"])
def test_jenkins_notification_is_kept_verbatim_before_the_202(app, client, how):
    make_source(app, "ci", "jenkins")
    body = fixture_bytes(NOTIFICATION)
    response = deliver(client, "jenkins", "ci", body, "application/json;charset=UTF-8", how=how,
                       headers={"User-Agent": "Jenkins-Notification"})
    assert response.status_code == 202, response.json
    [item] = stored(app)
    assert response.json == {"id": item.id}
    assert item.body.encode() == body
    assert item.body_sha256 == hashlib.sha256(body).hexdigest()
    assert (item.state, item.kind, item.source_name, item.attempts) == ("pending", "jenkins", "ci", 0)
    assert item.headers["content-type"] == "application/json;charset=UTF-8"
    assert item.headers["user-agent"] == "Jenkins-Notification"
    assert item.headers["x-authenticated-by"] == how
    assert SECRET not in json.dumps(item.headers)
    assert "authorization" not in item.headers and "x-hub-signature-256" not in item.headers


@pytest.mark.parametrize("content_type", [REGISTRY_TYPE, "application/json"])
def test_registry_envelopes_with_the_registry_content_type(app, client, content_type):
    make_source(app, "hub", "registry")
    response = deliver(client, "registry", "hub", fixture_bytes(PUSH), content_type, how="bearer")
    assert response.status_code == 202, response.json
    assert [i.kind for i in stored(app)] == ["registry"]


def test_generic_json(app, client):
    make_source(app, "deployer", "generic")
    response = deliver(client, "generic", "deployer", b'{"title": "Deployed api 1.4"}')
    assert response.status_code == 202
    assert stored(app)[0].body == '{"title": "Deployed api 1.4"}'


def test_hooks_need_no_session_and_no_csrf_token_and_ignore_api_tokens(app, client, auth):
    make_source(app, "ci", "jenkins")
    auth.login("someone", role="admin")  # a browser session on the same client changes nothing
    assert deliver(client, "jenkins", "ci", fixture_bytes(NOTIFICATION)).status_code == 202
    api_token = auth.token(role="admin", scope="admin")
    response = client.post("/hooks/jenkins/ci", data=fixture_bytes(NOTIFICATION), content_type="application/json",
                           headers={"Authorization": "Bearer " + api_token})
    assert response.status_code == 401  # an API token is not this source's secret
    assert len(stored(app)) == 1


@pytest.mark.parametrize("path_kind, name, setup", [
    ("jenkins", "nobody", None),
    ("jenkins", "off", dict(name="off", kind="jenkins", active=False)),
    ("registry", "ci", dict(name="ci", kind="jenkins")),
    ("generic", "ci", dict(name="ci", kind="jenkins")),
])
def test_unknown_inactive_or_other_kind_source_is_404(app, client, path_kind, name, setup):
    if setup:
        make_source(app, **setup)
    response = deliver(client, path_kind, name, fixture_bytes(NOTIFICATION), how="token")
    assert response.status_code == 404
    assert response.json["code"] == 404 and "No active %s webhook source" % path_kind in response.json["message"]
    assert stored(app) == []


def test_other_kinds_in_the_path_are_404(client):
    response = client.post("/hooks/gitlab/ci", data=b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("path", ["/hooks/../api/v1/events", "/hooks/%2e%2e/api/v1/users", "/hooks/jenkins/"])
def test_the_receivers_app_serves_nothing_but_receivers(client, auth, path):
    auth.login("someone", role="admin")  # even with a session, nothing of the main app answers under /hooks/
    response = client.open(path, method="GET", data=None)
    assert response.status_code == 404 and response.json["code"] == 404
    assert "items" not in response.json


def test_receivers_answer_with_the_security_headers_and_set_no_cookie(app, client, auth):
    make_source(app, "ci", "jenkins")
    auth.login("someone", role="viewer")
    response = deliver(client, "jenkins", "ci", fixture_bytes(NOTIFICATION))
    assert response.status_code == 202
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    refused = deliver(client, "jenkins", "ci", b"{}", how="none")
    assert refused.status_code == 401 and refused.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("how, secret, expected", [
    ("none", SECRET, "Authenticate with"),
    ("bearer", "wrong-secret-of-some-length", "Authorization header"),
    ("token", "wrong-secret-of-some-length", "token parameter"),
    ("hmac", "wrong-secret-of-some-length", "signature does not match"),
])
def test_wrong_or_missing_secret_is_401_and_nothing_is_stored(app, client, caplog, how, secret, expected):
    make_source(app, "ci", "jenkins")
    caplog.set_level(logging.DEBUG)
    response = deliver(client, "jenkins", "ci", fixture_bytes(NOTIFICATION), how=how, secret=secret)
    assert response.status_code == 401
    assert expected in response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored(app) == []
    assert SECRET not in caplog.text and SECRET not in response.get_data(as_text=True)


def test_signature_of_another_body_is_401(app, client):
    make_source(app, "ci", "jenkins")
    body = fixture_bytes(NOTIFICATION)
    response = client.post("/hooks/jenkins/ci", data=body, content_type="application/json",
                           headers={"X-Hub-Signature-256": signature(body + b" ")})
    assert response.status_code == 401 and stored(app) == []


def test_body_over_the_limit_is_413(app, client):
    make_source(app, "ci", "jenkins")
    app.config["WEBHOOK_MAX_BYTES"] = 500
    body = json.dumps({"build": {"phase": "COMPLETED"}, "name": "x" * 600}).encode()
    response = deliver(client, "jenkins", "ci", body)
    assert response.status_code == 413 and response.json["code"] == 413
    assert deliver(client, "jenkins", "ci", json.dumps({"build": {"phase": "STARTED"}}).encode()).status_code == 202
    assert len(stored(app)) == 1


def test_the_webhook_limit_may_exceed_the_api_body_limit(app, client):
    make_source(app, "ci", "jenkins")
    app.config["MAX_CONTENT_LENGTH"] = 100
    body = json.dumps({"build": {"phase": "STARTED"}, "name": "y" * 300}).encode()
    assert deliver(client, "jenkins", "ci", body).status_code == 202


@pytest.mark.parametrize("body, message", [
    (b"", "empty"),
    (b"   ", "empty"),
    (b"{not json", "not valid JSON"),
    (b'{"build": {"phase": "COMPLETED"}', "not valid JSON"),
    ("{\"name\": \"caf\u00e9\"}".encode("latin-1"), "not UTF-8"),
    (b"[" * 100000, "not valid JSON"),
])
def test_not_json_is_400(app, client, body, message):
    make_source(app, "ci", "jenkins")
    response = deliver(client, "jenkins", "ci", body, how="bearer")
    assert response.status_code == 400, response.json
    assert message in response.json["message"]
    assert stored(app) == []


@pytest.mark.parametrize("kind, content_type", [
    ("jenkins", "text/plain"),
    ("jenkins", "application/x-www-form-urlencoded"),
    ("jenkins", REGISTRY_TYPE),
    ("generic", "application/xml"),
    ("jenkins", "application/json; charset=ISO-8859-1"),
    ("registry", "text/plain"),
])
def test_wrong_content_type_is_415(app, client, kind, content_type):
    make_source(app, "src", kind)
    response = deliver(client, kind, "src", b'{"build": {"phase": "STARTED"}, "events": []}', content_type)
    assert response.status_code == 415, response.json
    assert "Content-Type" in response.json["message"] or "UTF-8" in response.json["message"]
    assert stored(app) == []


@pytest.mark.parametrize("kind, body, field", [
    ("jenkins", b"[]", "_schema"),
    ("jenkins", b'{"name": "asgard"}', "build"),
    ("jenkins", b'{"name": "asgard", "build": {"number": 3}}', "build.phase"),
    ("registry", b'{"events": {}}', "events"),
    ("registry", b'{"events": [1, 2]}', "events"),
    ("registry", b'"events"', "_schema"),
    ("generic", b"[1, 2]", "_schema"),
])
def test_a_body_not_of_the_endpoints_kind_is_422(app, client, kind, body, field):
    make_source(app, "src", kind)
    response = deliver(client, kind, "src", body)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert stored(app) == []


def test_rate_limit_per_source_is_429_and_strangers_do_not_spend_it(app, client):
    make_source(app, "ci", "jenkins")
    make_source(app, "other", "jenkins")
    app.config["WEBHOOK_RATE_LIMIT"] = "3 per minute"
    body = fixture_bytes(NOTIFICATION)
    for _ in range(5):
        assert deliver(client, "jenkins", "ci", body, how="none").status_code == 401
    assert [deliver(client, "jenkins", "ci", body).status_code for _ in range(4)] == [202, 202, 202, 429]
    limited = deliver(client, "jenkins", "ci", body)
    assert limited.status_code == 429 and limited.json["code"] == 429 and "Retry-After" in limited.headers
    assert deliver(client, "jenkins", "other", body).status_code == 202  # each source has its own budget
    assert len(stored(app)) == 4


def test_repeated_authentication_failures_from_one_address_are_429(app, client):
    make_source(app, "ci", "jenkins")
    app.config["WEBHOOK_AUTH_FAILURE_LIMIT"] = "3 per minute"
    body = fixture_bytes(NOTIFICATION)
    codes = [deliver(client, "jenkins", "ci", body, how="token", secret="guess-%02d-xxxxxxxxxx" % i).status_code
             for i in range(4)]
    assert codes == [401, 401, 401, 429]
    assert stored(app) == []


def test_bodies_refused_before_the_secret_is_checked_do_not_spend_the_sources_budget(app, client):
    make_source(app, "ci", "jenkins")
    app.config["WEBHOOK_RATE_LIMIT"] = "2 per minute"
    body = fixture_bytes(NOTIFICATION)
    for _ in range(3):
        assert deliver(client, "jenkins", "ci", body, content_type="text/plain", how="none").status_code == 415
    codes = [deliver(client, "jenkins", "ci", b'{"build": {}}').status_code,  # authenticated, then 422
             deliver(client, "jenkins", "ci", body).status_code, deliver(client, "jenkins", "ci", body).status_code]
    assert codes == [422, 202, 429]


def test_the_retry_after_of_a_429_is_the_rest_of_the_window(app, client):
    make_source(app, "ci", "jenkins")
    app.config["WEBHOOK_RATE_LIMIT"] = "1 per hour"
    body = fixture_bytes(NOTIFICATION)
    assert deliver(client, "jenkins", "ci", body).status_code == 202
    limited = deliver(client, "jenkins", "ci", body)
    assert limited.status_code == 429 and "1 per 1 hour" in limited.json["message"]
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600


def test_budgets_are_off_when_rate_limiting_is(app, client, monkeypatch):
    from app.http.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", False)  # what RATELIMIT_ENABLED=false sets
    make_source(app, "ci", "jenkins")
    app.config["WEBHOOK_RATE_LIMIT"] = "1 per hour"
    body = fixture_bytes(NOTIFICATION)
    assert [deliver(client, "jenkins", "ci", body).status_code for _ in range(3)] == [202, 202, 202]


@pytest.mark.parametrize("content_type", [
    "application/vnd.docker.distribution.events.v1+json",  # registry 2.x (Debian's docker-registry, registry:2)
    "application/vnd.docker.distribution.events.v2+json",  # distribution 3.x
    "application/vnd.docker.distribution.events.v3+json",  # any later version of the family is JSON
    "application/json",
])
def test_registry_accepts_every_media_type_of_the_events_family(app, client, content_type):
    make_source(app, "hub", "registry")
    response = deliver(client, "registry", "hub", fixture_bytes(PUSH), content_type, how="bearer")
    assert response.status_code == 202, response.json
    assert [item.headers["content-type"] for item in stored(app)] == [content_type]


def test_registry_family_media_types_are_refused_elsewhere(app, client):
    make_source(app, "ci", "jenkins")
    response = deliver(client, "jenkins", "ci", fixture_bytes(NOTIFICATION),
                       "application/vnd.docker.distribution.events.v1+json")
    assert response.status_code == 415


def _as_pull(method):
    envelope = json.loads(fixture_bytes(PULL))
    envelope["events"][0]["request"]["method"] = method
    return envelope


def test_pulls_and_heads_are_dropped_at_receipt_without_a_row(app, client, auth):
    """Every pull (the pollers' own manifest checks among them) would otherwise be an ignored inbox item."""
    make_source(app, "hub", "registry")
    head = _as_pull("HEAD")
    head["events"][0]["action"] = "push"  # a HEAD is a read whatever the action says
    for envelope in (_as_pull("GET"), head):
        response = deliver(client, "registry", "hub", json.dumps(envelope).encode(), REGISTRY_TYPE)
        assert response.status_code == 202, response.json
        assert response.json == {"id": None, "dropped": 1}
    assert stored(app) == []
    mixed = json.loads(fixture_bytes(PUSH))
    mixed["events"].append(_as_pull("GET")["events"][0])
    response = deliver(client, "registry", "hub", json.dumps(mixed).encode(), REGISTRY_TYPE)
    [item] = stored(app)
    assert response.status_code == 202 and response.json == {"id": item.id, "dropped": 1}
    text = client.get("/metrics", headers=auth.headers("viewer", "read")).get_data(as_text=True)
    assert 'changetracker_webhook_dropped_total{kind="registry",source="hub"} 3.0' in text


def test_every_refusal_is_counted_by_source_and_reason(app, client, auth):
    from tests.http.test_metrics import scrape, value

    make_source(app, "hub", "registry")
    headers = auth.headers("viewer", "read")
    before = scrape(client, headers)
    deliver(client, "registry", "hub", fixture_bytes(PUSH), "text/plain")  # 415
    deliver(client, "registry", "hub", fixture_bytes(PUSH), REGISTRY_TYPE, secret="wrong-secret-000000")  # 401
    deliver(client, "registry", "hub", b"{not json", REGISTRY_TYPE)  # 400
    deliver(client, "registry", "nobody", fixture_bytes(PUSH), REGISTRY_TYPE)  # 404: no series per made-up name
    deliver(client, "registry", "hub", fixture_bytes(PUSH), REGISTRY_TYPE)  # 202: not a refusal
    after = scrape(client, headers)

    def grew(source, reason):
        labels = dict(kind="registry", source=source, reason=reason)
        name = "changetracker_webhook_refused_total"
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert [grew("hub", r) for r in ("unsupported_media_type", "unauthorized", "bad_request")] == [1, 1, 1]
    assert grew("unknown", "unknown_source") == 1
    assert not [k for k in after if "nobody" in str(k)]
    assert sum(v for (name, _), v in after.items() if name == "changetracker_webhook_refused_total") - sum(
        v for (name, _), v in before.items() if name == "changetracker_webhook_refused_total") == 4
