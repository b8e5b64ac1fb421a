"""/api/v1/sources: admin-only CRUD, a write-only secret encrypted at rest, mappings checked per kind, audited."""
import pytest

from app.ingest import sources
from app.models import AuditEntry, WebhookSource
from tests.conftest import connected
from tests.webhook_support import deliver, fixture_bytes

SECRET = "a-long-enough-secret-1234"


@pytest.fixture
def admin(auth):
    return auth.headers(role="admin", scope="admin")


def create(client, headers, **body):
    data = {"name": "ci-main", "kind": "jenkins", "secret": SECRET, "mapping": {"jobs": [{"pattern": "infra/*"}]}}
    data.update(body)
    return client.post("/api/v1/sources", json=data, headers=headers)


def test_crud_never_returns_the_secret_and_audits_without_it(app, client, admin):
    response = create(client, admin)
    assert response.status_code == 201, response.json
    body = response.json
    assert "secret" not in body and SECRET not in response.get_data(as_text=True)
    assert body["receive_path"] == "/hooks/jenkins/ci-main"
    assert body["mapping"]["jobs"][0] == {"pattern": "infra/*", "type": "deployment", "severity": "info",
                                          "failure_severity": "high", "agents": [], "tools": [], "toolchains": [],
                                          "tags": [], "agents_parameter": None}
    assert client.get("/api/v1/sources", headers=admin).json["items"][0]["name"] == "ci-main"
    changed = client.patch("/api/v1/sources/ci-main", json={"name": "ci-prod", "active": False, "secret": "x" * 20},
                           headers=admin)
    assert changed.status_code == 200 and (changed.json["name"], changed.json["active"]) == ("ci-prod", False)
    assert client.get("/api/v1/sources/ci-main", headers=admin).status_code == 404
    assert client.delete("/api/v1/sources/ci-prod", headers=admin).status_code == 204
    assert client.get("/api/v1/sources/ci-prod", headers=admin).status_code == 404
    with connected(app):
        trail = list(AuditEntry.select().where(AuditEntry.entity_type == "webhook_source").order_by(AuditEntry.id))
    assert [e.action for e in trail] == ["create", "update", "delete"]
    assert trail[1].after["secret"] == "(changed)"
    assert all(SECRET not in str(e.before) + str(e.after) and "x" * 20 not in str(e.after) for e in trail)


def test_the_secret_is_encrypted_at_rest_and_only_the_right_key_opens_it(app, client, admin):
    create(client, admin)
    with connected(app):
        row = WebhookSource.get(WebhookSource.name == "ci-main")
        assert SECRET not in row.secret_encrypted
        assert sources.reveal_secret(row, sources.cipher(app.config["SECRET_KEY"])) == SECRET
        with pytest.raises(sources.SecretUnavailable, match="SECRET_KEY"):
            sources.reveal_secret(row, sources.cipher("another-key"))


def test_a_changed_secret_key_makes_deliveries_401_until_the_secret_is_set_again(app, client, admin, caplog):
    create(client, admin, mapping={"jobs": []})
    app.config["SECRET_KEY"] = "rotated-without-care"
    response = deliver(client, "jenkins", "ci-main", fixture_bytes("notification-plugin-completed.json"), how="token",
                       secret=SECRET)
    assert response.status_code == 401 and "set it again" in response.json["message"]
    assert "cannot be decrypted" in caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize("body, field", [
    ({"secret": "short"}, "secret"),
    ({"name": "has space"}, "name"),
    ({"name": ""}, "name"),
    ({"kind": "gitlab"}, "kind"),
    ({"mapping": {"jobs": [{"pattern": "x", "type": "bogus"}]}}, "mapping.jobs.0.type"),
    ({"mapping": {"unknown": 1}}, "mapping.unknown"),
    ({"kind": "registry", "mapping": {"repositories": []}}, "mapping.repositories"),
    ({"kind": "registry", "mapping": {"repositories": ["a/*"], "actions": ["pull"]}}, "mapping.actions"),
    ({"kind": "generic", "mapping": {}}, "mapping.fields"),
    ({"kind": "generic", "mapping": {"fields": {"title": "a b"}}}, "mapping.fields.title.value"),
    ({"kind": "generic", "mapping": {"fields": {"owner": "a"}, "defaults": {"title": "t"}}}, "mapping.fields.owner.key"),
    ({"kind": "generic", "mapping": {"defaults": {"title": "t", "severity": "huge"}}}, "mapping.defaults.severity"),
    ({"kind": "generic", "mapping": {"defaults": {"title": "t", "agents": "a"}}}, "mapping.defaults.agents"),
    ({"active": "maybe"}, "active"),
    ({"extra": 1}, "extra"),
])
def test_invalid_sources_are_422_with_the_field(client, admin, body, field):
    response = create(client, admin, **body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"], response.json["errors"]


def test_patch_checks_the_mapping_against_the_kind_and_refuses_a_kind_change(client, admin):
    create(client, admin)
    assert client.patch("/api/v1/sources/ci-main", json={"mapping": {"repositories": ["x"]}},
                        headers=admin).status_code == 422
    assert "kind" in client.patch("/api/v1/sources/ci-main", json={"kind": "registry"}, headers=admin).json["errors"]


def test_taken_names_are_409(client, admin):
    assert create(client, admin).status_code == 201
    assert create(client, admin).status_code == 409
    create(client, admin, name="other")
    assert client.patch("/api/v1/sources/other", json={"name": "ci-main"}, headers=admin).status_code == 409


@pytest.mark.parametrize("role, scope", [("editor", "write"), ("viewer", "read")])
def test_sources_are_admin_only(client, auth, role, scope):
    headers = auth.headers(role=role, scope=scope)
    assert client.get("/api/v1/sources", headers=headers).status_code == 403
    assert create(client, headers).status_code == 403


def test_a_registry_source_tracks_every_repository_unless_told_otherwise(client, admin):
    """A new user expects "every repository"; a mapping that names none gets ["*"]."""
    response = create(client, admin, name="hub", kind="registry", mapping={})
    assert response.status_code == 201, response.json
    assert response.json["mapping"]["repositories"] == ["*"]
    assert response.json["mapping"]["actions"] == ["push", "delete"]
