"""Login: rate limits, audit of failures, no username oracle, sessions that end with the account, CSRF on the API."""
import pytest

from app.models import AuditEntry, User
from tests.conftest import PASSWORD, AuthActions, connected

SESSION, REMEMBER = "changetracker_session", "remember_token"


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
    # Usernames are one account whatever their case: ALICE shares alice's count.
    assert attempt(client, auth, "ALICE", PASSWORD, address="10.0.0.9").status_code == 429


def test_an_attack_on_a_username_does_not_lock_out_its_owner_on_a_browser_they_used(strict_app, app, auth):
    """The per-username limit counts failures from browsers that never logged in as that user; the owner's
    browser carries a signed login-device cookie from an earlier login and is counted by its address alone."""
    auth.user("alice", "viewer")
    owner = app.test_client()
    assert attempt(owner, AuthActions(app, owner), "alice", PASSWORD, address="192.0.2.7").status_code == 302
    owner.post("/logout", data={"csrf_token": AuthActions(app, owner).csrf_token("/")})
    attacker = app.test_client()
    tries = [attempt(attacker, AuthActions(app, attacker), "alice", "guess %d!" % i, address="10.0.0.%d" % i).status_code
             for i in range(6)]
    assert tries == [401, 401, 401, 429, 429, 429]  # strangers slow down, whichever address they use
    stranger = app.test_client()  # the right password from a browser alice never used: waits like the attacker
    assert attempt(stranger, AuthActions(app, stranger), "alice", PASSWORD, address="198.51.100.1").status_code == 429
    assert attempt(owner, AuthActions(app, owner), "alice", PASSWORD, address="192.0.2.7").status_code == 302
    # The device cookie is signed and names alice only: forged, or from another user's login, it exempts nothing.
    mallory = app.test_client()
    auth.user("mallory", "viewer")
    assert attempt(mallory, AuthActions(app, mallory), "mallory", PASSWORD, address="10.1.0.1").status_code == 302
    assert attempt(mallory, AuthActions(app, mallory), "alice", "guess!", address="10.1.0.2").status_code == 429
    forger = app.test_client()
    forger.set_cookie("changetracker_login_device", "W10.forged.signature")
    assert attempt(forger, AuthActions(app, forger), "alice", "guess!", address="10.1.0.3").status_code == 429


def test_the_owner_is_still_limited_per_address(strict_app, app, auth):
    auth.user("alice", "viewer")
    owner = app.test_client()
    assert attempt(owner, AuthActions(app, owner), "alice", PASSWORD, address="192.0.2.7").status_code == 302
    statuses = [attempt(owner, AuthActions(app, owner), "alice", "typo!", address="192.0.2.7").status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]  # the successful login counted for the address


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


def copy_of(app, client, *names):
    """A second browser holding copies of ``client``'s cookies ``names`` (saved, stolen or left behind)."""
    other = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        other.set_cookie(name, cookie.value)
    return other


def logged_in(client):
    return client.get("/").status_code == 200


@pytest.mark.parametrize("kept", [(SESSION,), (REMEMBER,)], ids=["session cookie", "remember cookie"])
def test_logout_ends_copies_of_the_session_and_the_remember_cookie(app, client, auth, kept):
    auth.user("alice", "viewer")
    assert attempt(client, auth, "alice", PASSWORD).status_code == 302
    client.post("/login", data={"username": "alice", "password": PASSWORD, "remember": "on",
                                "csrf_token": auth.csrf_token()})
    saved = copy_of(app, client, *kept)
    assert logged_in(saved)
    auth.logout()
    assert not logged_in(client) and not logged_in(saved)
    assert client.get_cookie(REMEMBER) is None  # logout deletes it too


@pytest.mark.parametrize("change", [{"password": "a brand new passphrase"}, {"role": "editor"}, {"active": False}],
                         ids=["password reset", "role change", "deactivation"])
def test_a_password_role_or_active_change_ends_the_users_sessions(app, client, auth, change):
    auth.user("alice", "viewer")
    client.post("/login", data={"username": "alice", "password": PASSWORD, "remember": "on",
                                "csrf_token": auth.csrf_token()})
    remembered = copy_of(app, client, REMEMBER)
    admin = {"Authorization": "Bearer " + auth.token(role="admin", scope="admin", username="root")}
    assert client.patch("/api/v1/users/alice", json=change, headers=admin).status_code == 200
    assert not logged_in(client) and not logged_in(remembered)
    if change == {"active": False}:  # and reactivating does not bring them back
        assert client.patch("/api/v1/users/alice", json={"active": True}, headers=admin).status_code == 200
        assert not logged_in(client) and not logged_in(remembered)


def test_an_admin_changing_their_own_password_on_the_page_stays_logged_in_there_only(app, client, auth):
    auth.login("boss", role="admin")
    elsewhere = copy_of(app, client, SESSION)
    token = auth.csrf_token("/admin/users")
    response = client.post("/admin/users/boss", data={"password": "another long passphrase", "csrf_token": token})
    assert response.status_code == 302
    assert logged_in(client) and not logged_in(elsewhere)


def test_other_changes_and_other_users_keep_their_sessions(app, client, auth):
    auth.login("alice", role="editor")
    admin = {"Authorization": "Bearer " + auth.token(role="admin", scope="admin", username="root")}
    assert client.patch("/api/v1/users/alice", json={"role": "editor", "active": True}, headers=admin).status_code == 200
    assert client.patch("/api/v1/users/root", json={"password": "yet another passphrase"}, headers=admin).status_code == 200
    assert logged_in(client)


def test_login_rotates_the_csrf_token(client, auth):
    auth.user("alice", "editor")
    before = auth.csrf_token()  # issued to the anonymous session, as an attacker who planted it would hold it
    assert client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": before}).status_code == 302
    refused = client.post("/api/v1/events", json={"title": "x"}, headers={"X-CSRFToken": before})
    assert refused.status_code == 400 and "CSRF" in refused.json["message"]
    after = auth.csrf_token("/")
    assert client.post("/api/v1/events", json={"title": "x"}, headers={"X-CSRFToken": after}).status_code == 201


def test_sessions_from_before_session_versions_are_ended(app, client, auth):
    """A session cookie that names a bare user id (issued before migration 0007) no longer loads anyone."""
    auth.login("alice", role="viewer")
    with connected(app):
        user = User.get(User.username == "alice")
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    assert not logged_in(client)


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
