"""Identity pages over the Flask test client: API tokens, admin users and audit, editing an event."""
import html as htmllib
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from app.ledger.events import get_event, record_event
from app.models import ApiToken, AuditEntry, User
from tests.conftest import PASSWORD, connected

SECRET_RE = re.compile(r'<code id="new-token-secret">([^<]+)</code>')


# --------------------------------------------------------------------------- helpers

def csrf_from(page_html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def text_of(fragment):
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def cell(row_html, css_class):
    match = re.search(r'<td class="%s">(.*?)</td>' % css_class, row_html, re.S)
    return text_of(match.group(1)) if match else None


def token_rows(page_html):
    """{token id: row html} of #token-list."""
    table = re.search(r'<table[^>]*id="token-list".*?</table>', page_html, re.S).group(0)
    return {int(i): row for i, row in re.findall(r'<tr data-token-id="(\d+)">(.*?)</tr>', table, re.S)}


def user_row(page_html, username):
    match = re.search(r'<tr data-user="%s">(.*?)</tr>' % re.escape(username), page_html, re.S)
    return match and [text_of(td) for td in re.findall(r"<td>(.*?)</td>", match.group(1), re.S)]


def audit_rows(page_html):
    """Rows of #audit-list as dicts: actor, action, entity, before {field: text}, after {field: text}."""
    table = re.search(r'<table[^>]*id="audit-list".*?</table>', page_html, re.S)
    assert table, "no #audit-list on the page"
    rows = []
    for row in re.findall(r'<tr class="entry">(.*?)</tr>', table.group(0), re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows.append({"actor": text_of(tds[1]), "action": text_of(tds[2]), "entity": text_of(tds[3]),
                     "before": diff_side(tds[4], "before"), "after": diff_side(tds[4], "after")})
    return rows


def diff_side(fragment, side):
    """{field: value as shown} of one side of an entry's field-by-field diff."""
    found = {}
    for field, values in re.findall(r'<dt data-field="([^"]+)">.*?</dt>(.*?)(?=<dt|</dl>)', fragment, re.S):
        value = re.search(r'<dd class="%s">(.*?)</dd>' % side, values, re.S)
        if value:
            found[field] = text_of(value.group(1))
    return found


def field_error(page_html, field, prefix):
    match = re.search(r'<p class="field-error" id="%s%s-error">(.*?)</p>' % (prefix, re.escape(field)), page_html, re.S)
    return text_of(match.group(1)) if match else ""


def errors_shown(page_html):
    return [text_of(p) for p in re.findall(r'<p class="flash flash-error" role="alert">(.*?)</p>', page_html, re.S)]


def token_count(app):
    with connected(app):
        return ApiToken.select().count()


def create_token_via_page(client, name="ci", scopes=("write",), expires_days="30"):
    page = client.get("/account/tokens").get_data(as_text=True)
    data = {"name": name, "scopes": list(scopes), "expires_days": expires_days, "csrf_token": csrf_from(page)}
    # A success redirects (303) to the list, which shows the secret once; following it is what a browser does.
    return client.post("/account/tokens", data=data, follow_redirects=True)


def bearer(secret):
    return {"Authorization": "Bearer " + secret}


@pytest.fixture
def event(app):
    with connected(app):
        return record_event({"title": "JDK 17.0.8 to 17.0.9", "type": "tool_update", "severity": "low",
                             "agents": ["linux-01"], "description": "Rolled out by the nightly job."})[0]


# --------------------------------------------------------------------------- API tokens page

def test_token_page_creates_a_token_and_shows_the_secret_only_once(app, client, auth):
    auth.login("editor", role="editor")
    response = create_token_via_page(client, name="nightly-poller", scopes=["write"], expires_days="30")
    assert [r.status_code for r in response.history] == [303] and response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    assert re.fullmatch(r"ct_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", secret)
    assert "shown only once" in page

    rows = token_rows(page)
    assert len(rows) == 1
    (token_id, row), = rows.items()
    assert "nightly-poller" in row and "ct_%s_" % secret[3:15] in row
    assert cell(row, "state") == "active"
    assert cell(row, "last-used") == "never"
    expected_expiry = (datetime.now(timezone.utc) + timedelta(days=30)).date()
    assert any(str(expected_expiry + timedelta(days=d)) in row for d in (-1, 0, 1)), row
    assert ">write<" in row

    with connected(app):
        token = ApiToken.get_by_id(token_id)
        assert token.scopes == "write"
        assert secret not in token.secret_hash

    again = client.get("/account/tokens")
    assert again.status_code == 200
    again_html = again.get_data(as_text=True)
    assert secret not in again_html
    assert "new-token-secret" not in again_html
    assert list(token_rows(again_html)) == [token_id]
    assert token_count(app) == 1


def test_secret_from_the_page_is_a_bearer_token_until_revoked_from_the_page(app, client, auth):
    auth.login("editor", role="editor")
    secret = SECRET_RE.search(create_token_via_page(client).get_data(as_text=True)).group(1)

    api = app.test_client()  # no session: only the bearer token speaks
    listed = api.get("/api/v1/events", headers=bearer(secret))
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.get_json()["items"] == []
    created = api.post("/api/v1/events", headers=bearer(secret), json={"title": "Maven 3.9.6", "type": "tool_update"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["created_by"].startswith("editor (token ci)")

    page = client.get("/account/tokens").get_data(as_text=True)
    (token_id, row), = token_rows(page).items()
    assert cell(row, "last-used") != "never"
    assert 'action="/account/tokens/%d/revoke"' % token_id in row

    revoked = client.post("/account/tokens/%d/revoke" % token_id, data={"csrf_token": csrf_from(page)})
    assert revoked.status_code == 302
    assert urlsplit(revoked.headers["Location"]).path == "/account/tokens"
    after = client.get("/account/tokens").get_data(as_text=True)
    assert "Token &#39;ci&#39; revoked." in after or "Token 'ci' revoked." in htmllib.unescape(after)
    row = token_rows(after)[token_id]
    assert cell(row, "state") == "revoked"
    assert "Revoke</button>" not in row

    refused = api.get("/api/v1/events", headers=bearer(secret))
    assert refused.status_code == 401
    assert "revoked" in refused.get_json()["message"]
    with connected(app):
        entry = AuditEntry.select().where((AuditEntry.action == "revoke") & (AuditEntry.entity_type == "token")).get()
        assert entry.before["state"] == "active" and entry.after["state"] == "revoked"


def test_revoke_without_csrf_is_refused_and_the_token_keeps_working(app, client, auth):
    auth.login("editor", role="editor")
    secret = SECRET_RE.search(create_token_via_page(client).get_data(as_text=True)).group(1)
    (token_id, _), = token_rows(client.get("/account/tokens").get_data(as_text=True)).items()
    assert client.post("/account/tokens/%d/revoke" % token_id).status_code == 400
    assert app.test_client().get("/api/v1/events", headers=bearer(secret)).status_code == 200


def test_someone_elses_token_cannot_be_revoked_from_the_page(app, client, auth):
    other_secret = auth.token("editor", "write", username="someone-else")
    with connected(app):
        other_id = ApiToken.select().get().id
    auth.login("editor", role="editor")
    page = client.get("/account/tokens").get_data(as_text=True)
    assert token_rows(page) == {}  # only one's own tokens are listed
    response = client.post("/account/tokens/%d/revoke" % other_id, data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
    assert app.test_client().get("/api/v1/events", headers=bearer(other_secret)).status_code == 200


def test_a_viewer_cannot_tick_write(app, client, auth):
    auth.login("viewer", role="viewer")
    response = create_token_via_page(client, scopes=["read", "write"])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(e.startswith("Scopes :") and "may not hold the write scope" in e for e in errors_shown(page)), errors_shown(page)
    assert "new-token-secret" not in page
    assert token_rows(page) == {}
    assert token_count(app) == 0


def test_a_viewer_can_create_a_read_token(app, client, auth):
    auth.login("viewer", role="viewer")
    response = create_token_via_page(client, scopes=["read"], expires_days="")
    assert response.status_code == 200
    secret = SECRET_RE.search(response.get_data(as_text=True)).group(1)
    (_, row), = token_rows(response.get_data(as_text=True)).items()
    assert "never" in row  # no expiry
    api = app.test_client()
    assert api.get("/api/v1/events", headers=bearer(secret)).status_code == 200
    assert api.post("/api/v1/events", headers=bearer(secret), json={"title": "x"}).status_code == 403


@pytest.mark.parametrize("days", ["soon", "0", "3651"])
def test_bad_expiry_is_422_with_a_message_and_nothing_created(app, client, auth, days):
    auth.login("editor", role="editor")
    response = create_token_via_page(client, expires_days=days)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert any(e.startswith("Expires in (days) :") for e in errors_shown(page)), errors_shown(page)
    assert "new-token-secret" not in page
    assert token_count(app) == 0


@pytest.mark.parametrize("csrf", [None, "forged"])
def test_token_form_without_a_valid_csrf_token_is_400_and_creates_nothing(app, client, auth, csrf):
    auth.login("editor", role="editor")
    client.get("/account/tokens")
    data = {"name": "ci", "scopes": ["write"], "expires_days": "30"}
    if csrf:
        data["csrf_token"] = csrf
    response = client.post("/account/tokens", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "CSRF" in page
    assert "ct_" not in page
    assert token_count(app) == 0


def test_token_page_needs_a_login(client):
    response = client.get("/account/tokens")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


# --------------------------------------------------------------------------- admin pages

@pytest.mark.parametrize("role", ["viewer", "editor"])
@pytest.mark.parametrize("path", ["/admin/users", "/admin/audit"])
def test_non_admins_get_403_on_admin_pages(client, auth, role, path):
    auth.login(role, role=role)
    response = client.get(path)
    assert response.status_code == 403
    assert "admin access" in response.get_data(as_text=True)


def test_non_admin_cannot_post_the_admin_forms(app, client, auth):
    auth.login("viewer", role="viewer")
    token = csrf_from(client.get("/").get_data(as_text=True))
    created = client.post("/admin/users", data={
        "username": "mallory", "role": "admin", "password": "a strong password 1", "csrf_token": token})
    assert created.status_code == 403
    promoted = client.post("/admin/users/viewer", data={"role": "admin", "active": "true", "csrf_token": token})
    assert promoted.status_code == 403
    with connected(app):
        assert User.get_or_none(User.username == "mallory") is None
        assert User.get(User.username == "viewer").role == "viewer"


def test_admin_nav_links_only_for_admins(client, auth):
    auth.login("editor", role="editor")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/account/tokens"' in page
    assert 'href="/admin/users"' not in page and 'href="/admin/audit"' not in page
    auth.logout()
    auth.login("admin", role="admin")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/audit"' in page


def test_admin_adds_a_user_through_the_form(app, client, auth):
    auth.login("admin", role="admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert user_row(page, "admin")[1] == "admin"

    weak = client.post("/admin/users", data={
        "username": "carol", "role": "editor", "password": "short", "csrf_token": csrf_from(page)})
    assert weak.status_code == 422
    weak_html = weak.get_data(as_text=True)
    shown = errors_shown(weak_html)
    assert any(e.startswith("password") and "at least 10 characters" in e for e in shown), shown
    assert 'name="username" required value="carol"' in weak_html  # the form keeps what was typed
    assert user_row(weak_html, "carol") is None
    with connected(app):
        assert User.get_or_none(User.username == "carol") is None

    same = client.post("/admin/users", data={
        "username": "carol", "role": "editor", "password": "carol", "csrf_token": csrf_from(page)})
    assert same.status_code == 422
    assert any("Must not be the username." in e for e in errors_shown(same.get_data(as_text=True)))

    created = client.post("/admin/users", data={
        "username": "carol", "role": "editor", "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert created.status_code == 302
    assert urlsplit(created.headers["Location"]).path == "/admin/users"
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "Created editor carol." in listing
    assert user_row(listing, "carol")[:3] == ["carol", "editor", "yes"]

    taken = client.post("/admin/users", data={
        "username": "CAROL", "role": "viewer", "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert taken.status_code == 409  # usernames are case-insensitive, and a clash is a 409 as everywhere
    assert any("Already taken." in e for e in errors_shown(taken.get_data(as_text=True)))

    # the new user can log in with that password
    other = app.test_client()
    login_page = other.get("/login").get_data(as_text=True)
    response = other.post("/login", data={"username": "carol", "password": PASSWORD, "csrf_token": csrf_from(login_page)})
    assert response.status_code == 302

    audit = client.get("/admin/audit", query_string={"entity_type": "user"}).get_data(as_text=True)
    entry = next(r for r in audit_rows(audit) if r["entity"] == "user carol" and r["action"] == "create")
    assert entry["actor"] == "admin"
    assert entry["after"]["role"] == "editor" and entry["before"] == {}
    assert "password" not in entry["after"]


def test_admin_changes_a_role(app, client, auth):
    auth.user("bob", "viewer")
    auth.login("admin", role="admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert user_row(page, "bob")[1] == "viewer"
    response = client.post("/admin/users/bob", data={
        "role": "editor", "active": "true", "password": "", "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "Updated bob." in listing
    assert user_row(listing, "bob")[1:3] == ["editor", "yes"]
    with connected(app):
        assert User.get(User.username == "bob").role == "editor"

    audit = client.get("/admin/audit").get_data(as_text=True)
    entry = next(r for r in audit_rows(audit) if r["entity"] == "user bob" and r["action"] == "update")
    assert entry["actor"] == "admin"
    assert entry["before"]["role"] == "viewer" and entry["after"]["role"] == "editor"
    assert "password" not in entry["after"]  # no reset was asked for


def test_admin_cannot_demote_themself_through_the_form(app, client, auth):
    auth.login("admin", role="admin")
    page = client.get("/admin/users").get_data(as_text=True)
    response = client.post("/admin/users/admin", data={
        "role": "viewer", "active": "true", "csrf_token": csrf_from(page)})
    assert response.status_code == 422
    assert any("cannot demote or deactivate yourself" in e for e in errors_shown(response.get_data(as_text=True)))
    with connected(app):
        assert User.get(User.username == "admin").role == "admin"


def test_admin_weak_password_reset_is_422_and_changes_nothing(app, client, auth):
    auth.user("bob", "viewer")
    auth.login("admin", role="admin")
    page = client.get("/admin/users").get_data(as_text=True)
    response = client.post("/admin/users/bob", data={
        "role": "editor", "active": "true", "password": "aaaaaaaaaaaa", "csrf_token": csrf_from(page)})
    assert response.status_code == 422
    assert any("4 different characters" in e for e in errors_shown(response.get_data(as_text=True)))
    with connected(app):
        assert User.get(User.username == "bob").role == "viewer"


def test_deactivated_users_session_goes_back_to_login(app, client, auth):
    auth.user("bob", "editor")
    bob = app.test_client()
    login_page = bob.get("/login").get_data(as_text=True)
    assert bob.post("/login", data={
        "username": "bob", "password": PASSWORD, "csrf_token": csrf_from(login_page)}).status_code == 302
    assert bob.get("/").status_code == 200
    bob_secret = auth.token("editor", "write", username="bob")

    auth.login("admin", role="admin")
    page = client.get("/admin/users").get_data(as_text=True)
    response = client.post("/admin/users/bob", data={
        "role": "editor", "active": "false", "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert user_row(client.get("/admin/users").get_data(as_text=True), "bob")[2] == "no"

    for path in ("/", "/account/tokens"):
        kicked = bob.get(path)
        assert kicked.status_code == 302, path
        location = urlsplit(kicked.headers["Location"])
        assert location.path == "/login" and "next=" in location.query
    again = bob.get("/login").get_data(as_text=True)
    refused = bob.post("/login", data={"username": "bob", "password": PASSWORD, "csrf_token": csrf_from(again)})
    assert refused.status_code == 401
    api = app.test_client().get("/api/v1/events", headers=bearer(bob_secret))
    assert api.status_code == 401
    assert "deactivated" in api.get_json()["message"]

    audit = client.get("/admin/audit", query_string={"entity_type": "user"}).get_data(as_text=True)
    entry = next(r for r in audit_rows(audit) if r["entity"] == "user bob" and r["action"] == "update")
    assert entry["before"]["active"] == "yes" and entry["after"]["active"] == "no"  # readable, no Python reprs


def test_admin_audit_filters_by_actor(client, auth, app):
    auth.user("bob", "viewer")
    auth.login("admin", role="admin")
    page = client.get("/admin/users").get_data(as_text=True)
    client.post("/admin/users/bob", data={"role": "editor", "active": "true", "csrf_token": csrf_from(page)})
    rows = audit_rows(client.get("/admin/audit", query_string={"actor": "admin"}).get_data(as_text=True))
    assert rows and all(r["actor"] == "admin" for r in rows)
    none = client.get("/admin/audit", query_string={"actor": "nobody-at-all"}).get_data(as_text=True)
    assert audit_rows(none) == [] and "No entries." in none


# --------------------------------------------------------------------------- editing an event

def test_editor_edits_an_event_and_the_history_shows_before_and_after(app, client, auth, event):
    auth.login("editor", role="editor")
    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    assert 'id="edit-event"' in page
    assert 'value="JDK 17.0.8 to 17.0.9"' in page
    history = audit_rows(page)
    assert [r["action"] for r in history] == ["create"]

    response = client.post("/events/%d" % event["id"], data={
        "title": "JDK 17.0.8 to 17.0.10", "severity": "high", "type": "tool_update",
        "description": "Rolled out by the nightly job.", "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/events/%d" % event["id"]

    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    assert "Saved." in page
    assert "<h1>JDK 17.0.8 to 17.0.10</h1>" in page
    history = audit_rows(page)
    assert [r["action"] for r in history] == ["update", "create"]  # newest first
    update = history[0]
    assert update["actor"] == "editor"
    assert update["before"] == {"title": "JDK 17.0.8 to 17.0.9", "severity": "low"}
    assert update["after"] == {"title": "JDK 17.0.8 to 17.0.10", "severity": "high"}
    with connected(app):
        stored = get_event(event["id"])
        assert (stored["title"], stored["severity"], stored["type"]) == ("JDK 17.0.8 to 17.0.10", "high", "tool_update")
        assert stored["agents"] == ["linux-01"]  # fields not on the form are untouched


def test_saving_an_unchanged_form_records_no_history(app, client, auth, event):
    auth.login("editor", role="editor")
    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    response = client.post("/events/%d" % event["id"], data={
        "title": event["title"], "severity": event["severity"], "type": event["type"],
        "description": event["description"], "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    assert [r["action"] for r in audit_rows(page)] == ["create"]


def test_invalid_edit_is_422_with_the_error_and_nothing_changes(app, client, auth, event):
    auth.login("editor", role="editor")
    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    response = client.post("/events/%d" % event["id"], data={
        "title": "", "severity": "apocalyptic", "type": "tool_update", "csrf_token": csrf_from(page)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Missing data for required field." in field_error(page, "title", "e-") or \
        "Length must be between 1 and 200." in field_error(page, "title", "e-")
    assert "Must be one of" in field_error(page, "severity", "e-")  # each message next to its field
    with connected(app):
        assert get_event(event["id"])["title"] == "JDK 17.0.8 to 17.0.9"
        assert AuditEntry.select().where(AuditEntry.action == "update").count() == 0


def test_event_edit_without_csrf_is_400(app, client, auth, event):
    auth.login("editor", role="editor")
    response = client.post("/events/%d" % event["id"], data={"title": "hijacked"})
    assert response.status_code == 400
    with connected(app):
        assert get_event(event["id"])["title"] == "JDK 17.0.8 to 17.0.9"


def test_viewer_sees_no_edit_form_and_a_post_is_403(app, client, auth, event):
    auth.login("viewer", role="viewer")
    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    assert "<h1>JDK 17.0.8 to 17.0.9</h1>" in page
    assert 'id="edit-event"' not in page and 'name="title"' not in page
    assert [r["action"] for r in audit_rows(page)] == ["create"]  # history is readable
    response = client.post("/events/%d" % event["id"], data={
        "title": "viewer was here", "severity": "critical", "type": "note", "csrf_token": csrf_from(page)})
    assert response.status_code == 403
    assert "write access" in response.get_data(as_text=True)
    with connected(app):
        stored = get_event(event["id"])
        assert (stored["title"], stored["severity"]) == ("JDK 17.0.8 to 17.0.9", "low")
        assert AuditEntry.select().where(AuditEntry.action == "update").count() == 0


def test_editing_a_missing_event_is_404(client, auth):
    auth.login("editor", role="editor")
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.get("/events/999999").status_code == 404
    assert client.post("/events/999999", data={"title": "x", "csrf_token": token}).status_code == 404
