"""The login/logout pages over the Flask test client: CSRF, the ``next`` redirect and the session cookie."""
import re
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest

from tests.conftest import PASSWORD

OFF_SITE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    " //evil.example",
]


@pytest.fixture(autouse=True)
def default_cookie_security(monkeypatch):
    """The cookie tests are about the defaults: no CHANGETRACKER_SESSION_COOKIE_SECURE from the shell."""
    monkeypatch.delenv("CHANGETRACKER_SESSION_COOKIE_SECURE", raising=False)


def csrf_from(html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else None


def login_post(client, auth, next_url=None, username="viewer", password=PASSWORD, **form):
    auth.user(username, "viewer")
    data = {"username": username, "password": password, "csrf_token": auth.csrf_token(), **form}
    query = {"next": next_url} if next_url is not None else None
    return client.post("/login", query_string=query, data=data)


def is_logged_in(client):
    response = client.get("/")
    return response.status_code == 200


def redirect_target(response):
    """(host, path?query) of a redirect; host '' or 'localhost' means this service."""
    parts = urlsplit(response.headers["Location"])
    return parts.netloc, parts.path + ("?" + parts.query if parts.query else "")


def set_cookies(response):
    """{name: (morsel, raw header)} of every Set-Cookie header."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = (morsel, header)
    return cookies


def test_login_page_renders_with_csrf_token(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Log in</h1>" in html
    assert len(csrf_from(html) or "") > 20
    assert 'name="username"' in html and 'type="password"' in html
    assert 'action="/login"' in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_csp_also_pins_base_uri_and_form_action(client):
    """Neither falls back to default-src: without them an injected <base> or <form> sends links or a form
    (with its CSRF token) to another site."""
    policy = [p.strip() for p in client.get("/login").headers["Content-Security-Policy"].split(";")]
    assert "base-uri 'none'" in policy and "form-action 'self'" in policy


def test_what_a_logged_in_user_sees_is_never_stored_by_a_cache(client, auth, app):
    """After logout, the back button on a shared computer or a proxy must not show the pages again."""
    auth.login("viewer", role="viewer")
    for path in ("/", "/events", "/agents", "/account/tokens", "/api/v1/events", "/api/v1/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    headers = {"Authorization": "Bearer " + auth.token(role="viewer", scope="read", username="reader")}
    assert client.get("/api/v1/events", headers=headers).headers["Cache-Control"] == "no-store"
    assert client.get("/login").headers["Cache-Control"] == "no-store"  # its CSRF token belongs to one session
    # The same files for everyone stay cacheable.
    for path in ("/static/css/app.css", "/assets/plotly.min.js", "/api/v1/docs/assets/swagger-ui-bundle.js"):
        with client.get(path) as response:
            assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", ""), path


def test_anonymous_page_visit_redirects_to_login_with_next(client):
    response = client.get("/?agent=linux-01")
    assert response.status_code == 302
    host, target = redirect_target(response)
    assert host in ("", "localhost")
    assert urlsplit(target).path == "/login"
    assert "next=" in target and "agent" in target


def test_login_without_csrf_token_is_refused(client, auth):
    auth.user("viewer", "viewer")
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_login_with_a_forged_csrf_token_is_refused(client, auth):
    auth.user("viewer", "viewer")
    client.get("/login")
    response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400
    assert not is_logged_in(client)


def test_wrong_password_is_401_and_not_logged_in(client, auth):
    response = login_post(client, auth, password="wrong password here")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_right_password_redirects_to_timeline(client, auth):
    response = login_post(client, auth)
    assert response.status_code == 302
    assert redirect_target(response)[1] == "/"
    assert is_logged_in(client)


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_off_site_next_is_ignored(client, auth, next_url):
    response = login_post(client, auth, next_url=next_url)
    assert response.status_code == 302
    host, target = redirect_target(response)
    assert host in ("", "localhost"), response.headers["Location"]
    assert target == "/", response.headers["Location"]
    assert is_logged_in(client)


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_off_site_next_is_not_carried_into_the_login_form(client, next_url):
    html = client.get("/login", query_string={"next": next_url}).get_data(as_text=True)
    assert 'action="/login"' in html
    assert "evil" not in html and "javascript" not in html


@pytest.mark.parametrize("next_url", ["/", "/?agent=x", "/?agent=linux-01&severity=high"])
def test_safe_next_is_honoured(client, auth, next_url):
    response = login_post(client, auth, next_url=next_url)
    assert response.status_code == 302
    host, target = redirect_target(response)
    assert host in ("", "localhost")
    assert target == next_url


def test_safe_next_survives_the_login_form(client, auth):
    """The form on /login?next=... posts back to the same next, and a failed attempt keeps it."""
    html = client.get("/login", query_string={"next": "/?agent=x"}).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    assert action == "/login?next=/?agent%3Dx"
    auth.user("viewer", "viewer")
    failed = client.post(action, data={
        "username": "viewer", "password": "nope nope nope", "csrf_token": csrf_from(html)})
    assert failed.status_code == 401
    again = failed.get_data(as_text=True)
    assert re.search(r'<form method="post" action="([^"]+)"', again).group(1) == action
    ok = client.post(action, data={
        "username": "viewer", "password": PASSWORD, "csrf_token": csrf_from(again)})
    assert redirect_target(ok)[1] == "/?agent=x"


def test_session_cookie_is_httponly_lax_and_secure_by_default(app, client, auth):
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = login_post(client, auth)
    assert response.status_code == 302
    cookies = set_cookies(response)
    assert "changetracker_session" in cookies, response.headers.getlist("Set-Cookie")
    morsel, raw = cookies["changetracker_session"]
    assert morsel["httponly"] is True, raw
    assert morsel["samesite"] == "Lax", raw
    assert morsel["secure"] is True, raw
    assert morsel["path"] == "/", raw
    assert "remember_token" not in cookies


def test_remember_me_cookie_is_httponly_and_secure(client, auth):
    response = login_post(client, auth, remember="on")
    cookies = set_cookies(response)
    assert "remember_token" in cookies, response.headers.getlist("Set-Cookie")
    morsel, raw = cookies["remember_token"]
    assert morsel["httponly"] is True, raw
    assert morsel["secure"] is True, raw
    assert morsel["samesite"] == "Lax", raw


def test_logout_needs_csrf_and_post(client, auth):
    login_post(client, auth)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)
    response = auth.logout()
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert not is_logged_in(client)
    assert "You are logged out." in client.get("/login").get_data(as_text=True)
