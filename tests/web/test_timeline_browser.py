"""The timeline pages as a user sees them in Debian's chromium: login, chart, list, filters, logout."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from app.ledger.events import record_event
from tests.conftest import PASSWORD, connected

pytestmark = pytest.mark.browser

SEVERITY_FILLS = {  # the colours static/js/timeline.js gives each severity, as the browser reports them
    "info": "rgb(107, 114, 128)",
    "medium": "rgb(217, 119, 6)",
    "high": "rgb(220, 38, 38)",
}


@pytest.fixture
def events(app):
    """Three events an hour apart: one per Linux agent and a fleet-wide one, newest last."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    payloads = [
        {"title": "JDK 17.0.8 to 17.0.9", "type": "tool_update", "severity": "high",
         "agents": ["linux-01"], "occurred_at": (now - timedelta(hours=3)).isoformat()},
        {"title": "Maven 3.9.5 to 3.9.6", "type": "tool_update", "severity": "info",
         "agents": ["linux-02"], "occurred_at": (now - timedelta(hours=2)).isoformat()},
        {"title": "Artifact proxy unreachable", "type": "outage", "severity": "medium",
         "occurred_at": (now - timedelta(hours=1)).isoformat()},
    ]
    with connected(app):
        return [record_event(p)[0] for p in payloads]


def log_in(page, auth, username="viewer", role="viewer", password=PASSWORD, next_path="/"):
    auth.user(username, role)
    page.goto(next_path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def path_of(page):
    return re.sub(r"^https?://[^/]+", "", page.url)


def lanes(page):
    """The swimlane names on the chart's y axis, top to bottom."""
    page.wait_for_selector("#timeline .main-svg")
    labels = page.locator("#timeline .yaxislayer-above .ytick text").all_text_contents()
    return labels[::-1]  # Plotly lists category ticks bottom-up


def event_rows(page):
    """(title, severity, agents) of each row of the list under the chart, in page order."""
    rows = page.locator("#event-list tbody tr[data-event-id]")
    return [
        (row.locator("td").nth(3).inner_text(), row.locator("td").nth(1).inner_text(), row.locator("td").nth(4).inner_text())
        for row in rows.all()
    ]


def markers(page):
    return page.locator("#timeline .scatterlayer .trace .points path.point")


def hover_label(page, marker):
    """Move the mouse onto a marker and return the hover box text (Plotly listens on its drag layer)."""
    box = marker.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = page.locator("#timeline .hoverlayer .hovertext")
    label.first.wait_for(state="visible", timeout=5000)
    text = " ".join(label.all_text_contents())
    page.mouse.move(1, 1)  # leave the chart so the next hover starts clean
    page.locator("#timeline .hoverlayer .hovertext").first.wait_for(state="detached", timeout=5000)
    return text


def test_anonymous_visit_redirects_to_login(page, problems):
    response = page.goto("/")
    assert path_of(page).startswith("/login")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "Log in"
    assert page.locator("input[name=csrf_token]").get_attribute("value")
    assert page.locator("#timeline").count() == 0
    assert problems == []


def test_wrong_password_shows_error_and_stays_on_login(page, auth, problems):
    auth.user("viewer", "viewer")
    page.goto("/login")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation() as nav:
        page.click("main button[type=submit]")
    assert nav.value.status == 401
    assert path_of(page).startswith("/login")
    assert "Wrong username or password." in page.locator(".flash-error").inner_text()
    assert page.locator("input[name=username]").input_value() == "viewer"
    assert page.locator("input[name=password]").input_value() == ""
    assert page.locator("form.whoami").count() == 0
    # A wrong password is only a 401 response, not a console problem of the page.
    assert [p for p in problems if "401" not in p] == []


def test_right_password_lands_on_timeline(page, auth, problems):
    log_in(page, auth)
    assert path_of(page) == "/"
    assert page.locator("h1").inner_text() == "Timeline"
    assert "viewer · viewer" in page.locator("form.whoami").inner_text()
    assert page.locator("#event-list").inner_text().count("No events match these filters.") == 1
    # Nothing to chart: a sentence, not an empty Plotly axis around the year 2000.
    assert page.locator("#timeline").inner_text() == "No events to chart for these filters."
    assert page.locator("#timeline .main-svg").count() == 0
    assert problems == []


def test_login_returns_to_the_page_asked_for(page, auth, events, problems):
    auth.user("viewer", "viewer")
    page.goto("/?agent=linux-02")
    assert path_of(page).startswith("/login?next=")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert path_of(page) == "/?agent=linux-02"
    assert [r[0] for r in event_rows(page)] == ["Maven 3.9.5 to 3.9.6"]
    assert problems == []


def test_chart_has_a_lane_per_agent_and_markers_by_severity(page, auth, events, problems):
    log_in(page, auth)
    assert lanes(page) == ["linux-01", "linux-02", "fleet"]

    points = markers(page)
    assert points.count() == 3
    for i in range(points.count()):  # nothing (e.g. the legend) sits on top of a marker
        on_top = points.nth(i).evaluate(
            "el => { const b = el.getBoundingClientRect();"
            " const top = document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2);"
            " return top.getAttribute('class') + ' in ' + top.parentNode.getAttribute('class'); }")
        assert on_top.startswith("nsewdrag"), "marker %d is covered by %s" % (i, on_top)
    ticks = page.locator("#timeline .yaxislayer-above .ytick text")
    tick_y = {}
    for i in range(ticks.count()):
        box = ticks.nth(i).bounding_box()
        tick_y[ticks.nth(i).text_content()] = box["y"] + box["height"] / 2

    seen = []  # (x, lane the marker sits on, hover text, fill)
    for i in range(points.count()):
        box = points.nth(i).bounding_box()
        centre_y = box["y"] + box["height"] / 2
        lane = min(tick_y, key=lambda name: abs(tick_y[name] - centre_y))
        fill = points.nth(i).evaluate("el => getComputedStyle(el).fill")
        seen.append((box["x"], lane, hover_label(page, points.nth(i)), fill))

    # Oldest on the left (the x axis is time), each on its agent's lane, hover naming title, type and severity.
    seen.sort()
    fills = {}
    for event, (_, lane, label, fill) in zip(events, seen):
        assert event["title"] in label, (event["title"], label)
        assert event["type"] in label and event["severity"] in label, label
        assert lane == (event["agents"] or ["fleet"])[0]
        fills[event["severity"]] = fill
    assert fills == SEVERITY_FILLS
    assert len(set(fills.values())) == 3

    legend = page.locator("#timeline .legend .traces text").all_text_contents()
    assert sorted(legend) == ["high", "info", "medium"]
    assert problems == []


def test_list_shows_the_same_events_newest_first(page, auth, events, problems):
    log_in(page, auth)
    assert event_rows(page) == [
        ("Artifact proxy unreachable", "medium", "fleet"),
        ("Maven 3.9.5 to 3.9.6", "info", "linux-02"),
        ("JDK 17.0.8 to 17.0.9", "high", "linux-01"),
    ]
    assert page.locator("main h2").inner_text() == "3 events"
    times = page.locator("#event-list time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert times == sorted(times, reverse=True)
    assert problems == []


def test_filter_by_agent_narrows_list_and_lanes(page, auth, events, problems):
    log_in(page, auth)
    page.fill("form.filters input[name=agent]", "linux-01")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "agent=linux-01" in page.url
    assert page.locator("form.filters input[name=agent]").input_value() == "linux-01"
    assert event_rows(page) == [("JDK 17.0.8 to 17.0.9", "high", "linux-01")]
    assert page.locator("main h2").inner_text() == "1 event"
    assert lanes(page) == ["linux-01"]
    assert markers(page).count() == 1

    page.fill("form.filters input[name=agent]", "")
    page.select_option("form.filters select[name=severity]", "info")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert event_rows(page) == [("Maven 3.9.5 to 3.9.6", "info", "linux-02")]
    assert lanes(page) == ["linux-02"]
    assert page.locator("form.filters select[name=severity]").input_value() == "info"
    assert problems == []


def test_filter_matching_nothing_says_so(page, auth, events, problems):
    log_in(page, auth)
    page.goto("/?agent=no-such-agent")
    assert "No events match these filters." in page.locator("#event-list").inner_text()
    assert page.locator("main h2").inner_text() == "0 events"
    assert page.locator("#timeline").inner_text() == "No events to chart for these filters."
    assert markers(page).count() == 0
    assert problems == []


def test_logout(page, auth, problems):
    log_in(page, auth)
    page.click("form.whoami button")
    page.wait_for_load_state()
    assert path_of(page).startswith("/login")
    assert "You are logged out." in page.locator(".flash").inner_text()
    assert page.locator("form.whoami").count() == 0
    page.goto("/")
    assert path_of(page).startswith("/login")
    assert problems == []


def test_plotly_runs_under_the_content_security_policy(page, auth, events, problems):
    log_in(page, auth)
    response = page.goto("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    page.wait_for_selector("#timeline .main-svg")
    assert page.evaluate("typeof Plotly") == "object"
    assert markers(page).count() == 3
    assert problems == [], problems
    assert page.outside_requests == []


def test_chart_offers_no_upload_to_plotly_cloud(page, auth, events, problems):
    log_in(page, auth)
    page.wait_for_selector("#timeline .main-svg")
    page.hover("#timeline .main-svg")  # the mode bar shows on hover
    titles = page.locator("#timeline .modebar-btn").evaluate_all("els => els.map(e => e.getAttribute('data-title'))")
    assert "Download plot as a PNG" in titles
    assert not [t for t in titles if "share" in t.lower() or "cloud" in t.lower() or "chart studio" in t.lower()], titles
    assert problems == []


def test_screenshot_with_demo_data(app, page, auth, problems):
    from app.ops.demo import seed_events

    with connected(app):
        seed_events()
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, auth)
    page.wait_for_selector("#timeline .main-svg")
    assert lanes(page)[-1] == "fleet"
    page.screenshot(path="/tmp/timeline.png", full_page=True)
    assert problems == []
