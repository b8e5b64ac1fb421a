"""Identity in Debian's chromium: an API token's whole life, and the audit trail of an edited event."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from app.ledger.events import event_history, get_event, record_event
from app.models import ApiToken
from tests.conftest import PASSWORD, connected

pytestmark = pytest.mark.browser


@pytest.fixture
def http():
    """Plain HTTP from Python, as a pipeline script would call the service (no proxies from the environment)."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def event(app):
    with connected(app):
        return record_event({"title": "Docker image jenkins-agent:1.4", "type": "docker_image", "severity": "low",
                             "agents": ["linux-01"], "description": "Pulled by the nightly job."})[0]


def without_expected_statuses(problems, *statuses):
    """``problems`` less Chromium's own log line for a page answered with one of the expected error statuses."""
    expected = tuple("Failed to load resource: the server responded with a status of %d " % s for s in statuses)
    return [p for p in problems if not p.startswith(tuple("console error: " + e for e in expected))]


def log_in(page, auth, username, role, password=PASSWORD):
    auth.user(username, role)
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("header .whoami span").inner_text() == "%s · %s" % (username, role)


def log_out(page):
    page.click("header .whoami button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("main h1").inner_text() == "Log in"


def path_of(page):
    return re.sub(r"^https?://[^/]+", "", page.url)


def token_row(page, name):
    return page.locator("#token-list tbody tr[data-token-id]").filter(has_text=name)


def definitions(row, side):
    """One side ("before" or "after") of an audit entry's field-by-field diff as {field: value shown}."""
    found = {}
    for term in row.locator("dl.diff dt").all():
        field = term.get_attribute("data-field")
        value = row.locator('dl.diff dt[data-field="%s"] + dd.%s, dl.diff dt[data-field="%s"] + dd + dd.%s'
                            % (field, side, field, side))
        if value.count():
            found[field] = value.first.inner_text().strip()
    return found


def create_token_in_page(page, name, scope="write", days="30"):
    page.fill("input[name=name]", name)
    for box in ("read", "write", "admin"):
        page.locator("input[name=scopes][value=%s]" % box).set_checked(box == scope)
    page.fill("input[name=expires_days]", days)
    page.click("button:has-text('Create token')")
    page.wait_for_load_state()
    return page.locator("#new-token-secret").inner_text().strip()


def test_an_api_token_from_creation_to_revocation(page, live_server, auth, app, http, problems):
    log_in(page, auth, "editor", "editor")
    page.click("header nav >> text=API tokens")
    page.wait_for_load_state()
    assert path_of(page) == "/account/tokens"
    assert page.locator("#token-list tbody").inner_text().strip() == "No tokens yet."

    secret = create_token_in_page(page, "nightly-poller", scope="write", days="30")
    assert re.fullmatch(r"ct_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", secret), secret
    assert "shown only once" in page.locator("#new-token").inner_text()
    row = token_row(page, "nightly-poller")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "ct_%s_…" % secret[3:15]
    assert cells[2] == "write"
    expiry = datetime.strptime(cells[4], "%Y-%m-%d").date()
    assert abs((expiry - (datetime.now(timezone.utc) + timedelta(days=30)).date()).days) <= 1
    assert row.locator(".last-used").inner_text() == "never"
    assert row.locator(".state").inner_text() == "active"

    # A pipeline uses the secret it was given.
    created = http.post(live_server.url + "/api/v1/events", headers={"Authorization": "Bearer " + secret},
                        json={"title": "Gradle 8.5 to 8.6", "type": "tool_update", "agents": ["linux-02"]}, timeout=10)
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "editor (token nightly-poller)"

    # Back on the page (a fresh GET: the secret is gone, "Last used" is filled in).
    page.click("header nav >> text=API tokens")
    page.wait_for_load_state()
    assert page.locator("#new-token-secret").count() == 0
    assert secret not in page.content()
    row = token_row(page, "nightly-poller")
    last_used = row.locator(".last-used").inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", last_used), last_used
    assert abs(datetime.strptime(last_used, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
               - datetime.now(timezone.utc)) < timedelta(minutes=5)

    row.locator("button:has-text('Revoke')").click()
    page.wait_for_load_state()
    assert path_of(page) == "/account/tokens"
    assert "Token 'nightly-poller' revoked." in page.locator("main .flash").all_inner_texts()
    row = token_row(page, "nightly-poller")
    assert row.locator(".state").inner_text() == "revoked"
    assert row.locator("button:has-text('Revoke')").count() == 0

    refused = http.get(live_server.url + "/api/v1/events", headers={"Authorization": "Bearer " + secret}, timeout=10)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    with connected(app):
        assert ApiToken.select().count() == 1
    assert problems == []


def test_a_viewer_is_told_they_cannot_have_a_write_token(page, auth, app, problems):
    log_in(page, auth, "viewer", "viewer")
    page.goto("/account/tokens")
    page.fill("input[name=name]", "wants-write")
    page.locator("input[name=scopes][value=write]").check()
    page.click("button:has-text('Create token')")
    page.wait_for_load_state()
    alert = page.locator("main .flash-error[role=alert]")
    assert "may not hold the write scope" in alert.inner_text()
    assert page.locator("#new-token-secret").count() == 0
    assert page.locator("input[name=scopes][value=write]").is_checked()  # the form keeps the choice
    with connected(app):
        assert ApiToken.select().count() == 0
    assert len(problems) == 1  # the 422 itself
    assert without_expected_statuses(problems, 422) == []


def test_reloading_after_creating_a_token_does_not_create_another(page, auth, app, problems):
    log_in(page, auth, "editor", "editor")
    page.goto("/account/tokens")
    create_token_in_page(page, "ci", scope="read", days="")
    page.reload()
    with connected(app):
        assert ApiToken.select().count() == 1


def test_the_audit_trail_shows_before_and_after_of_an_edited_event(page, auth, app, event, problems):
    log_in(page, auth, "editor", "editor")
    page.goto("/events/%d" % event["id"])
    form = page.locator("#edit-event")
    assert form.locator("input[name=title]").input_value() == "Docker image jenkins-agent:1.4"
    assert form.locator("select[name=severity]").input_value() == "low"
    assert page.locator("#audit-list tbody tr").count() == 1

    form.locator("input[name=title]").fill("Docker image jenkins-agent:1.5")
    form.locator("select[name=severity]").select_option("high")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert path_of(page) == "/events/%d" % event["id"]
    assert "Saved." in page.locator("main .flash").all_inner_texts()
    assert page.locator("main h1").inner_text() == "Docker image jenkins-agent:1.5"
    assert page.locator("main .sev").first.inner_text() == "high"
    assert page.locator("#edit-event select[name=severity]").input_value() == "high"

    history = page.locator("#audit-list tbody tr")
    assert history.count() == 2
    update = history.nth(0)  # newest first
    cells = update.locator("td").all_inner_texts()
    assert cells[1:3] == ["editor", "update"]
    assert definitions(update, "before") == {"title": "Docker image jenkins-agent:1.4", "severity": "low"}
    assert definitions(update, "after") == {"title": "Docker image jenkins-agent:1.5", "severity": "high"}
    assert history.nth(1).locator("td").nth(2).inner_text() == "create"

    log_out(page)
    log_in(page, auth, "admin", "admin")
    page.click("header nav >> text=Audit")
    page.wait_for_load_state()
    assert path_of(page) == "/admin/audit"
    entry = (page.locator("#audit-list tbody tr")
             .filter(has=page.locator("td:nth-child(4)", has_text=re.compile(r"^event %d$" % event["id"])))
             .filter(has=page.locator("td:nth-child(3)", has_text=re.compile(r"^update$"))))
    assert entry.count() == 1
    assert entry.locator("td").nth(1).inner_text() == "editor"
    assert definitions(entry, "before") == {"title": "Docker image jenkins-agent:1.4", "severity": "low"}
    assert definitions(entry, "after") == {"title": "Docker image jenkins-agent:1.5", "severity": "high"}

    # The filter narrows to events, and the entry links back to the event page.
    page.locator("select[name=entity_type]").select_option("event")
    page.click("main form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "entity_type=event" in page.url
    entities = page.locator("#audit-list tbody tr td:nth-child(4)").all_inner_texts()
    assert entities and all(e.startswith("event ") for e in entities)
    page.locator("#audit-list").get_by_role("link", name="event %d" % event["id"]).first.click()
    page.wait_for_load_state()
    assert path_of(page) == "/events/%d" % event["id"]
    assert problems == []


def test_a_viewer_sees_the_history_but_no_edit_form(page, auth, event, problems):
    log_in(page, auth, "viewer", "viewer")
    page.goto("/events/%d" % event["id"])
    assert page.locator("main h1").inner_text() == "Docker image jenkins-agent:1.4"
    assert page.locator("#edit-event").count() == 0
    assert page.locator("#audit-list tbody tr").count() == 1
    assert page.locator("header nav >> text=Audit").count() == 0
    response = page.goto("/admin/audit")
    assert response.status == 403
    assert "admin access" in page.locator("main").inner_text()
    assert without_expected_statuses(problems, 403) == []


def test_editing_only_the_title_leaves_a_multi_line_description_alone(page, auth, app, problems):
    with connected(app):
        event = record_event({"title": "Outage", "type": "outage", "description": "line one\nline two"})[0]
    log_in(page, auth, "editor", "editor")
    page.goto("/events/%d" % event["id"])
    page.fill("#edit-event input[name=title]", "Outage of the artifact proxy")
    page.click("#edit-event button[type=submit]")
    page.wait_for_load_state()
    with connected(app):
        assert get_event(event["id"])["description"] == "line one\nline two"
        assert event_history(event["id"])[-1]["after"] == {"title": "Outage of the artifact proxy"}
