"""Users through /api/v1/users (admin only) with audited changes."""
import pytest

from app.accounts import users
from app.models import AuditEntry, User
from tests.conftest import PASSWORD, connected


@pytest.fixture
def admin(auth):
    return {"Authorization": "Bearer " + auth.token(role="admin", scope="admin")}


def test_admin_creates_lists_and_edits_users(client, admin, app):
    created = client.post("/api/v1/users", json={"username": "carol", "role": "viewer", "password": PASSWORD}, headers=admin)
    assert created.status_code == 201
    assert "password" not in created.json and "password_hash" not in created.json
    assert "carol" in {u["username"] for u in client.get("/api/v1/users", headers=admin).json["items"]}

    changed = client.patch("/api/v1/users/carol", json={"role": "editor"}, headers=admin)
    assert changed.status_code == 200 and changed.json["role"] == "editor"
    with connected(app):
        entry = AuditEntry.select().where((AuditEntry.entity_type == "user") & (AuditEntry.action == "update")).get()
    assert (entry.before["role"], entry.after["role"]) == ("viewer", "editor")

    reset = client.patch("/api/v1/users/carol", json={"password": "a new long passphrase"}, headers=admin)
    assert reset.status_code == 200
    with connected(app):
        assert users.authenticate("carol", "a new long passphrase") is not None
        assert users.authenticate("carol", PASSWORD) is None
        assert not any("a new long passphrase" in str(e.after) for e in AuditEntry.select())


@pytest.mark.parametrize("body, field, message", [
    ({"username": "dave", "password": "short"}, "password", "at least 10"),
    ({"username": "dave", "password": "dave"}, "password", "at least 10"),
    ({"username": "dave", "password": "aaaaaaaaaaaa"}, "password", "4 different"),
    ({"username": "da ve", "password": PASSWORD}, "username", "letters, digits"),
    ({"username": "dave", "password": PASSWORD, "role": "root"}, "role", "Must be one of"),
])
def test_bad_user_requests_are_422(client, admin, body, field, message):
    response = client.post("/api/v1/users", json=body, headers=admin)
    assert response.status_code == 422
    assert message in " ".join(response.json["errors"][field])


@pytest.mark.parametrize("username", ["viewer1", "VIEWER1", "Viewer1"])
def test_a_taken_username_in_any_case_is_a_409_like_agents_and_sources(client, admin, app, username):
    assert client.post("/api/v1/users", json={"username": "viewer1", "password": PASSWORD},
                       headers=admin).status_code == 201
    response = client.post("/api/v1/users", json={"username": username, "password": PASSWORD}, headers=admin)
    assert response.status_code == 409
    assert response.json["errors"] == {"username": ["Already taken."]}
    assert "viewer1" in response.json["message"]
    with connected(app):
        assert User.select().where(User.username.in_(["viewer1", "VIEWER1", "Viewer1"])).count() == 1


def test_usernames_are_found_whatever_their_case(client, admin, app):
    client.post("/api/v1/users", json={"username": "Carol.Ops", "password": PASSWORD}, headers=admin)
    assert client.get("/api/v1/users/carol.ops", headers=admin).json["username"] == "Carol.Ops"
    assert client.patch("/api/v1/users/CAROL.OPS", json={"role": "editor"}, headers=admin).json["role"] == "editor"
    with connected(app):
        assert users.authenticate("carol.OPS", PASSWORD).username == "Carol.Ops"


def test_the_last_admin_cannot_be_demoted(client, admin, auth):
    auth.user("second", "admin")
    response = client.patch("/api/v1/users/admin", json={"role": "viewer"}, headers=admin)
    assert response.status_code == 422 and "yourself" in response.json["errors"]["role"][0]
    other_admin = {"Authorization": "Bearer " + auth.token(role="admin", scope="admin", username="second")}
    assert client.patch("/api/v1/users/admin", json={"role": "viewer"}, headers=other_admin).status_code == 200
    response = client.patch("/api/v1/users/second", json={"active": False}, headers=other_admin)
    assert response.status_code == 422


def test_unknown_user_is_404(client, admin):
    assert client.patch("/api/v1/users/ghost", json={"role": "viewer"}, headers=admin).status_code == 404
