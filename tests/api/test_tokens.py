"""A token's whole life through /api/v1/tokens: create, use, last-used, expire, revoke."""
from datetime import timedelta

import pytest

from app.db import utcnow
from app.models import ApiToken, AuditEntry
from tests.conftest import connected


def bearer(secret):
    return {"Authorization": "Bearer " + secret}


def test_token_life_cycle(client, auth, app):
    editor = bearer(auth.token(role="editor", scope="write"))
    created = client.post("/api/v1/tokens", json={"name": "nightly", "scopes": ["write"], "expires_days": 7},
                          headers=editor)
    assert created.status_code == 201, created.json
    secret = created.json["secret"]
    assert created.json["state"] == "active" and created.json["last_used_at"] is None
    assert created.json["expires_at"] is not None

    listed = client.get("/api/v1/tokens", headers=editor).json["items"]
    assert {t["name"] for t in listed} == {"test", "nightly"}
    assert all("secret" not in t for t in listed)

    assert client.post("/api/v1/events", json={"title": "with the new token"}, headers=bearer(secret)).status_code == 201
    mine = {t["name"]: t for t in client.get("/api/v1/tokens", headers=bearer(secret)).json["items"]}
    assert mine["nightly"]["last_used_at"] is not None

    assert client.delete("/api/v1/tokens/%d" % created.json["id"], headers=editor).status_code == 204
    refused = client.get("/api/v1/events", headers=bearer(secret))
    assert (refused.status_code, refused.json["message"]) == (401, "Token has been revoked.")
    with connected(app):
        actions = [e.action for e in AuditEntry.select().where(AuditEntry.entity_type == "token")]
    assert actions.count("revoke") == 1


def test_expired_token_is_refused(client, auth, app):
    secret = auth.token()
    with connected(app):
        ApiToken.update(expires_at=utcnow() - timedelta(minutes=1)).execute()
    assert client.get("/api/v1/events", headers=bearer(secret)).json["message"] == "Token has expired."


def test_scopes_are_capped_by_role_and_by_the_calling_token(client, auth):
    viewer = bearer(auth.token(role="viewer", scope="read"))
    response = client.post("/api/v1/tokens", json={"scopes": ["write"]}, headers=viewer)
    assert response.status_code == 422 and "scopes" in response.json["errors"]

    read_token_of_editor = bearer(auth.token(role="editor", scope="read", username="ed2"))
    response = client.post("/api/v1/tokens", json={"scopes": ["write"]}, headers=read_token_of_editor)
    assert response.status_code == 422
    assert "This request may not hold the write scope." in response.json["errors"]["scopes"]


@pytest.mark.parametrize("body, field", [
    ({"scopes": ["root"]}, "scopes"),
    ({"scopes": []}, "scopes"),
    ({"expires_days": 0}, "expires_days"),
    ({"expires_days": "7"}, "expires_days"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_bad_token_requests_are_422(client, auth, app, body, field):
    headers = auth.headers()
    with connected(app):
        before = ApiToken.select().count()
    response = client.post("/api/v1/tokens", json=body, headers=headers)
    assert response.status_code == 422 and field in response.json["errors"]
    with connected(app):
        assert ApiToken.select().count() == before


def test_others_tokens_are_invisible_but_admins_can_revoke(client, auth):
    alice = bearer(auth.token(role="editor", username="alice"))
    bob_secret = auth.token(role="editor", username="bob")
    bob_id = client.get("/api/v1/tokens", headers=bearer(bob_secret)).json["items"][0]["id"]

    assert client.delete("/api/v1/tokens/%d" % bob_id, headers=alice).status_code == 404
    assert client.get("/api/v1/events", headers=bearer(bob_secret)).status_code == 200

    admin = bearer(auth.token(role="admin", scope="admin"))
    everyone = client.get("/api/v1/tokens?user=*", headers=admin).json["items"]
    assert {t["user"] for t in everyone} >= {"alice", "bob", "admin"}
    assert client.delete("/api/v1/tokens/%d" % bob_id, headers=admin).status_code == 204
    assert client.get("/api/v1/events", headers=bearer(bob_secret)).status_code == 401


def test_deactivated_users_tokens_stop_at_once(client, auth):
    secret = auth.token(role="editor", username="leaver")
    admin = bearer(auth.token(role="admin", scope="admin"))
    assert client.patch("/api/v1/users/leaver", json={"active": False}, headers=admin).status_code == 200
    response = client.get("/api/v1/events", headers=bearer(secret))
    assert (response.status_code, response.json["message"]) == (401, "Token owner is deactivated.")


def test_token_secret_is_stored_only_as_a_hash(client, auth, app):
    secret = client.post("/api/v1/tokens", json={"name": "x"}, headers=auth.headers()).json["secret"]
    with connected(app):
        for row in ApiToken.select().tuples():
            assert secret not in [str(v) for v in row]
        entries = [str(e.before) + str(e.after) for e in AuditEntry.select()]
    assert not any(secret in e or secret[16:] in e for e in entries)


@pytest.mark.parametrize("path", ["%EF%BC%91", "%D9%A1", "%E0%A5%A7", "%F0%9D%9F%8F"])  # １ ١ १ 𝟏: not ASCII digits
def test_ids_in_urls_are_ascii_digits_only(client, auth, path):
    """DELETE /api/v1/tokens/%EF%BC%91 (fullwidth 1) revoked token 1: Python's \\d and int() read it as 1."""
    secret = auth.token(role="editor", username="alice")
    token_id = client.get("/api/v1/tokens", headers=bearer(secret)).json["items"][0]["id"]
    assert token_id == 1
    assert client.delete("/api/v1/tokens/" + path, headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/events/" + path, headers=bearer(secret)).status_code == 404
    assert client.get("/api/v1/events", headers=bearer(secret)).status_code == 200  # still valid
