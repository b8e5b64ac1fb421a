"""Login: rate limits, audit of failures, no username oracle, sessions that end with the account, CSRF on the API."""
import pytest

from app.models import AuditEntry
from tests.conftest import PASSWORD, connected


@pytest.fixture
def strict_app(app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    return app


def attempt(client, auth, username, password, address="10.0.0.1"):
    token = auth.csrf_token()
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_login_attempts_are_rate_limited_per_address(strict_app, client, auth):
    auth.user("alice", "viewer")
    statuses = [attempt(client, auth, "alice", "wrong password!").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    blocked = attempt(client, auth, "alice", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many" in blocked.get_data(as_text=True) or "limit" in blocked.get_data(as_text=True).lower()


def test_login_attempts_are_rate_limited_per_account_across_addresses(strict_app, client, auth):
    auth.user("alice", "viewer")
    statuses = [attempt(client, auth, "alice", "wrong password!", address="10.0.0.%d" % i).status_code for i in range(4)]
    assert statuses[-1] == 429


def test_failed_login_is_audited_without_the_password(client, auth, app):
    auth.user("alice", "viewer")
    response = attempt(client, auth, "alice", "hunter2-secret-guess")
    assert response.status_code == 401
    with connected(app):
        entries = list(AuditEntry.select().where(AuditEntry.action == "login_failed"))
    assert [e.entity_id for e in entries] == ["alice"]
    assert all("hunter2" not in "%s%s" % (e.before, e.after) for e in entries)


def test_unknown_user_and_wrong_password_look_the_same(client, auth):
    auth.user("alice", "viewer")
    wrong = attempt(client, auth, "alice", "not the password")
    unknown = attempt(client, auth, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.get_data(as_text=True)
    assert "Wrong username or password." in unknown.get_data(as_text=True)


def test_deactivated_user_is_logged_out_at_once(client, auth):
    assert auth.login("leaver", role="editor").status_code == 302
    assert client.get("/").status_code == 200
    admin = {"Authorization": "Bearer " + auth.token(role="admin", scope="admin")}
    assert client.patch("/api/v1/users/leaver", json={"active": False}, headers=admin).status_code == 200
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert attempt(client, auth, "leaver", PASSWORD).status_code == 401


def test_session_api_calls_need_the_csrf_token(client, auth):
    auth.login("writer", role="editor")
    refused = client.post("/api/v1/events", json={"title": "from the browser"})
    assert refused.status_code == 400 and "CSRF" in refused.json["message"]
    token = auth.csrf_token("/")
    accepted = client.post("/api/v1/events", json={"title": "from the browser"}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    assert accepted.json["created_by"] == "writer"
    wrong = client.post("/api/v1/events", json={"title": "x"}, headers={"X-CSRFToken": "forged"})
    assert wrong.status_code == 400
