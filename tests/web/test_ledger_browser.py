"""The ledger pages in Debian's chromium: record a change, find it, import a CSV, ask for suspects."""
import csv
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.audit import Actor
from app.ledger.events import get_event, record_event
from tests.conftest import PASSWORD, connected

pytestmark = pytest.mark.browser

BUILD = "http://jenkins:8080/job/app/42/"


def log_in(page, auth, username="editor", role="editor", next_path="/"):
    auth.user(username, role)
    page.goto(next_path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def wait_for_focus(page, element_id, timeout=5.0):
    """Autofocus lands once the page has loaded; poll rather than evaluate a string (the CSP forbids eval)."""
    deadline = time.monotonic() + timeout
    while page.evaluate("document.activeElement.id") != element_id:
        assert time.monotonic() < deadline, "focus is on #%s" % page.evaluate("document.activeElement.id")
        page.wait_for_timeout(50)


def path_of(page):
    return re.sub(r"^https?://[^/]+", "", page.url)


def titles(page, table="#ledger"):
    return page.locator("%s tbody tr[data-event-id] td a[href^='/events/']" % table).all_inner_texts()


def record_all(app, payloads):
    with connected(app):
        return {p["title"]: record_event(p, Actor("t"))[0]["id"] for p in payloads}


def test_record_a_change_and_find_it_on_events_and_the_timeline(page, auth, problems):
    log_in(page, auth)
    with page.expect_navigation():
        page.click("nav >> text=Record change")
    assert path_of(page) == "/events/new"
    wait_for_focus(page, "f-title")  # type straight away
    shown = page.input_value("#f-occurred_at")
    assert abs(datetime.strptime(shown, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)
               - datetime.now(timezone.utc)) < timedelta(minutes=2)

    page.keyboard.type("Relabelled linux-07 by hand")
    page.select_option("#f-type", "agent_config")
    page.select_option("#f-severity", "medium")
    page.fill("#f-agents", "linux-07, linux-08")
    page.fill("#f-tags", "labels")
    page.fill("#f-description", "Added the docker label.")
    page.fill("#f-links", "https://tickets.example.com/OPS-12 Change ticket")
    with page.expect_navigation():
        page.click("#new-event button[type=submit]")
    assert re.fullmatch(r"/events/\d+", path_of(page))
    assert page.locator("main h1").inner_text() == "Relabelled linux-07 by hand"
    assert "Recorded “Relabelled linux-07 by hand”." in page.locator(".flash").inner_text()
    assert "linux-07, linux-08" in page.locator("dl.kv").first.inner_text()
    assert page.locator("a[href='https://tickets.example.com/OPS-12']").inner_text() == "Change ticket"

    with page.expect_navigation():
        page.click("nav >> text=Events")
    assert titles(page) == ["Relabelled linux-07 by hand"]
    row = page.locator("#ledger tbody tr").first
    assert "manual" in row.inner_text() and "medium" in row.inner_text()
    with page.expect_navigation():
        page.click("nav >> text=Timeline")
    assert "Relabelled linux-07 by hand" in page.locator("#event-list").inner_text()
    page.wait_for_selector("#timeline .main-svg")
    assert problems == []


def test_a_rejected_event_keeps_what_was_typed_and_focuses_the_field(page, auth, problems):
    log_in(page, auth, next_path="/events/new")
    page.fill("#f-title", "Maintenance window")
    page.select_option("#f-type", "maintenance")
    page.fill("#f-occurred_at", "2026-11-20T10:00")
    page.fill("#f-ended_at", "2026-11-20T09:00")
    page.fill("#f-agents", "linux-07")
    page.fill("#f-description", "Two lines\nof text")
    page.focus("#f-agents")
    with page.expect_navigation() as nav:
        page.keyboard.press("Enter")  # from a text field: the keyboard submits the form
    assert nav.value.status == 422
    assert page.locator("#f-ended_at-error").inner_text() == "Must not be before occurred_at."
    wait_for_focus(page, "f-ended_at")
    assert page.input_value("#f-title") == "Maintenance window"
    assert page.input_value("#f-type") == "maintenance"
    assert page.input_value("#f-occurred_at") == "2026-11-20T10:00"
    assert page.input_value("#f-agents") == "linux-07"
    assert page.input_value("#f-description") == "Two lines\nof text"
    summary = page.locator("#f-error-summary")
    assert "Ended at (UTC)" in summary.inner_text()
    summary.locator("a").click()
    assert page.url.endswith("#f-ended_at")

    page.fill("#f-ended_at", "2026-11-20T11:00")
    with page.expect_navigation():
        page.click("#new-event button[type=submit]")
    assert re.fullmatch(r"/events/\d+", path_of(page))
    assert problems == [r for r in problems if "422" in r]  # the 422 response itself is all the console saw
    problems.clear()


def test_filter_page_and_download_on_events(page, auth, app, problems):
    record_all(app, [{"title": "change %02d" % i, "agents": ["linux-07" if i % 2 else "linux-08"],
                      "severity": "high" if i % 3 == 0 else "info", "occurred_at": "2026-11-20T%02d:00:00Z" % i}
                     for i in range(1, 13)])
    log_in(page, auth, "viewer", "viewer", next_path="/events")
    page.fill("#f-agent", "linux-07")
    page.check("input[name=severity][value=info]")
    page.click("details.more-filters summary")
    page.select_option("#f-limit", "50")
    with page.expect_navigation():
        page.click("#ledger-filters button[type=submit]")
    assert titles(page) == ["change 11", "change 07", "change 05", "change 01"]
    assert "agent=linux-07" in page.url and "severity=info" in page.url
    assert page.is_checked("input[name=severity][value=info]")

    page.goto("/events?agent=linux-07&limit=2")
    assert titles(page) == ["change 11", "change 09"]
    with page.expect_navigation():
        page.click("#next-page")
    assert titles(page) == ["change 07", "change 05"]
    assert page.input_value("#f-agent") == "linux-07"

    with page.expect_download() as download:
        page.click("#download-csv")
    with open(download.value.path(), encoding="utf-8") as fh:
        content = fh.read()
    assert content.startswith("id,title,")
    assert sorted(re.findall(r"change \d+", content)) == ["change %02d" % i for i in (1, 3, 5, 7, 9, 11)]

    page.click("#save-search-panel summary")  # saving is one click away, folded by default
    page.fill("#s-name", "linux-07 changes")
    with page.expect_navigation():
        page.click("#save-search button[type=submit]")
    assert "Saved the search" in page.locator(".flash").inner_text()
    page.goto("/events")
    with page.expect_navigation():
        page.click("#saved-chips >> text=linux-07 changes")  # one click away, on every page with the panel
    assert page.input_value("#f-agent") == "linux-07"
    assert problems == []


@pytest.fixture
def failure(app):
    return record_all(app, [
        {"title": "Build 42 started", "source": "pipeline", "build_url": BUILD, "agents": ["linux-07"],
         "occurred_at": "2026-11-20T11:58:00Z"},
        {"title": "JDK 17.0.9 on linux-07", "type": "tool_update", "severity": "medium",
         "occurred_at": "2026-11-20T11:00:00Z", "agents": ["linux-07"], "tools": ["jdk-17"]},
        {"title": "JDK 17.0.9 on linux-08", "type": "tool_update", "occurred_at": "2026-11-20T11:15:00Z",
         "agents": ["linux-08"], "tools": ["jdk-17"]},
        {"title": "Artifact proxy outage", "type": "outage", "severity": "critical",
         "occurred_at": "2026-11-20T08:00:00Z", "ended_at": "2026-11-20T08:40:00Z"},
    ])


def test_suspects_from_the_jenkins_build_link(page, auth, failure, problems):
    log_in(page, auth, "viewer", "viewer")
    page.goto("/suspects?build_url=%s&before=2026-11-20T12:00:00Z" % BUILD)
    rows = page.locator("#suspects tbody tr")
    assert rows.count() == 4
    assert [rows.nth(i).get_attribute("data-rank") for i in range(4)] == [
        "same_agent", "same_agent", "same_tool", "fleet_wide"]
    first = rows.nth(0).inner_text()
    assert "JDK 17.0.9 on linux-07" in first and "1h before the failure" in first and "same agent linux-07" in first
    assert page.input_value("#f-before") == "2026-11-20T12:00"
    rows.nth(0).locator("a[href^='/events/']").click()
    assert path_of(page) == "/events/%d" % failure["JDK 17.0.9 on linux-07"]
    related = page.locator("#related-list").inner_text()
    assert "Build 42 started" in related and "JDK 17.0.9 on linux-08" in related
    assert problems == []


def test_suspects_for_an_unknown_build_ask_for_the_agent(page, auth, failure, problems):
    log_in(page, auth, "viewer", "viewer")
    response = page.goto("/suspects?build_url=http://jenkins:8080/job/app/43/&before=2026-11-20T12:00:00Z")
    assert response.status == 422
    problems.clear()
    assert "The build's agent is unknown" in page.locator("#f-build_url-error").inner_text()
    wait_for_focus(page, "f-agent")
    page.keyboard.type("linux-07")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#suspects tbody tr").count() == 4
    assert problems == []


def test_screenshots_of_events_and_suspects(app, page, auth, problems):
    from app.ops.demo import seed_events

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    with connected(app):
        seed_events(now=now)
        record_event({"title": "Build 42 started", "source": "pipeline", "build_url": BUILD, "agents": ["linux-03"],
                      "occurred_at": now.isoformat()}, Actor("t"))
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, auth, "admin", "admin", next_path="/events?limit=50")
    assert page.locator("#ledger tbody tr").count() == 50
    page.screenshot(path="/tmp/events.png", full_page=True)
    page.screenshot(path="/tmp/events-top.png")
    page.goto("/suspects?build_url=%s" % BUILD)
    assert page.locator("#suspects tbody tr").count() > 3
    page.screenshot(path="/tmp/suspects.png", full_page=True)
    page.goto("/events?from=yesterday&severity=urgent&agent=linux-01")
    page.screenshot(path="/tmp/events-errors.png", full_page=True)
    page.goto("/events/new")
    page.fill("#f-title", "x")
    page.fill("#f-ended_at", "2000-01-01T00:00")
    with page.expect_navigation():
        page.click("#new-event button[type=submit]")
    page.screenshot(path="/tmp/event-new-errors.png", full_page=True)
    page.goto("/import")
    page.screenshot(path="/tmp/import.png", full_page=True)
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto("/events")
    page.screenshot(path="/tmp/events-narrow.png", full_page=False)
    assert [p for p in problems if "422" not in p] == []


def test_csv_download_holds_exactly_the_rows_of_the_filtered_table(page, auth, app, problems):
    record_all(app, [{"title": "change %02d" % i, "agents": ["linux-0%d" % (i % 3)], "tags": ["t%d" % (i % 2)],
                      "severity": ("info", "high")[i % 2], "occurred_at": "2026-11-20T%02d:00:00Z" % i}
                     for i in range(1, 21)])
    log_in(page, auth, "viewer", "viewer", next_path="/events?severity=high&not_agent=linux-01&limit=500")
    shown = titles(page)
    assert shown and all(int(t.split()[1]) % 2 == 1 and int(t.split()[1]) % 3 != 1 for t in shown)
    with page.expect_download() as download:
        page.click("#download-csv")
    with open(download.value.path(), encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["title"] for row in rows] == shown  # the same events, in the same order
    assert problems == []


def test_an_editor_changes_severity_in_the_table_and_a_viewer_cannot(page, auth, app, problems):
    ids = record_all(app, [{"title": "JDK 17.0.9", "severity": "info", "agents": ["linux-07"],
                            "occurred_at": "2026-11-20T10:00:00Z"}])
    log_in(page, auth, "viewer", "viewer", next_path="/events")
    assert page.locator("#ledger select[name=severity]").count() == 0
    assert page.locator("#ledger details.edit-tags").count() == 0
    page.click("form.whoami button")
    page.wait_for_load_state()

    log_in(page, auth, "editor", "editor", next_path="/events")
    with page.expect_navigation():
        page.select_option("#sev-%d" % ids["JDK 17.0.9"], "critical")  # saved at once, no button to find
    assert "Saved event #%d." % ids["JDK 17.0.9"] in page.locator(".flash").inner_text()
    assert page.locator("#sev-%d" % ids["JDK 17.0.9"]).input_value() == "critical"
    page.click("#event-%d details.edit-tags summary" % ids["JDK 17.0.9"])
    page.fill("#tags-%d" % ids["JDK 17.0.9"], "jdk, security")
    with page.expect_navigation():
        page.click("#event-%d details.edit-tags button[type=submit]" % ids["JDK 17.0.9"])
    assert page.locator("#event-%d .tags-cell" % ids["JDK 17.0.9"]).inner_text().startswith("jdk")
    with connected(app):
        event = get_event(ids["JDK 17.0.9"])
    assert event["severity"] == "critical" and event["tags"] == ["jdk", "security"]
    assert problems == []
