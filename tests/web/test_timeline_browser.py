"""The timeline (/) as a user sees it in Debian's chromium: login, lanes, markers, filters, zoom, groups, banners,
the outage form, time zones, and names that must stay text."""
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest

from app.accounts.audit import Actor
from app.ledger.events import record_event
from app.models import Event
from tests.conftest import PASSWORD, connected

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results" / "screenshots"
SEVERITY_FILLS = {  # the colours static/js/timeline.js gives each severity, as the browser reports them
    "info": "rgb(107, 114, 128)",
    "medium": "rgb(180, 83, 9)",
    "high": "rgb(220, 38, 38)",
}
SEVERITY_SYMBOLS = {"info": "circle", "medium": "triangle-up", "high": "square"}


@pytest.fixture
def events(app):
    """Three events an hour apart: one per Linux agent and a fleet-wide one, newest last."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    payloads = [
        {"title": "JDK 17.0.8 to 17.0.9", "type": "tool_update", "severity": "high",
         "agents": ["linux-01"], "occurred_at": (now - timedelta(hours=3)).isoformat()},
        {"title": "Maven 3.9.5 to 3.9.6", "type": "tool_update", "severity": "info",
         "agents": ["linux-02"], "occurred_at": (now - timedelta(hours=2)).isoformat()},
        {"title": "Artifact proxy unreachable", "type": "note", "severity": "medium",
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
    if page.locator("#timeline").count():
        page.wait_for_selector("#timeline[data-ready]")


def path_of(page):
    return re.sub(r"^https?://[^/]+", "", page.url)


def lanes(page):
    """The swimlane names on the chart's y axis, top to bottom, as the browser shows them (text, not markup)."""
    page.wait_for_selector("#timeline .main-svg")
    ticks = page.locator("#timeline .yaxislayer-above .ytick text")
    placed = [(ticks.nth(i).bounding_box()["y"], ticks.nth(i).text_content()) for i in range(ticks.count())]
    return [name for _, name in sorted(placed)]


def event_rows(page):
    """(title, severity, agents) of each row of the list under the chart, in page order."""
    rows = page.locator("#event-list tbody tr[data-event-id]")
    return [(row.locator("td").nth(3).inner_text(), row.locator("td").nth(1).inner_text(),
             row.locator("td").nth(4).inner_text()) for row in rows.all()]


def markers(page):
    return page.locator("#timeline .scatterlayer .trace .points path.point")


def click(page, marker):
    """Click a marker where it is drawn (Plotly's drag layer takes the pointer events, as in a real browser)."""
    box = marker.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


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


def chart_state(page):
    """What the chart draws now: the mode and the bucket of the last answer, and the x range."""
    return page.evaluate("""() => { const el = document.getElementById('timeline');
        return {range: el.layout.xaxis.range, traces: el.data.map(t => [t.type, t.mode, t.name, (t.x || []).filter(v => v !== null).length])}; }""")


def open_filters(page):
    if not page.locator("#filter-panel").evaluate("el => el.open"):
        page.click("#filter-panel summary")


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


def test_right_password_lands_on_the_last_7_days(page, auth, problems):
    log_in(page, auth)
    assert path_of(page) == "/"
    assert page.locator("h1").inner_text() == "Timeline"
    assert "viewer · viewer" in page.locator("form.whoami").inner_text()
    assert page.locator(".ranges a[aria-current=true]").inner_text() == "7d"
    assert "Nothing recorded in this range yet." in page.locator("#event-list").inner_text()
    # Nothing to chart: a sentence, not an empty plot.
    assert page.locator("#timeline").inner_text() == "No events in this range."
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


def test_lanes_markers_colour_and_shape_hover_and_legend(page, auth, events, problems):
    log_in(page, auth)
    assert lanes(page) == ["fleet", "linux-01", "linux-02"]  # the fleet lane first, then the busiest

    points = markers(page)
    assert points.count() == 3
    ticks = page.locator("#timeline .yaxislayer-above .ytick text")
    tick_y = {ticks.nth(i).text_content(): ticks.nth(i).bounding_box()["y"] + ticks.nth(i).bounding_box()["height"] / 2
              for i in range(ticks.count())}
    seen = []  # (x, lane the marker sits on, hover text, fill, symbol)
    for i in range(points.count()):
        box = points.nth(i).bounding_box()
        lane = min(tick_y, key=lambda name: abs(tick_y[name] - (box["y"] + box["height"] / 2)))
        fill = points.nth(i).evaluate("el => getComputedStyle(el).fill")
        symbol = points.nth(i).evaluate("el => el.closest('.trace').__data__[0].trace.marker.symbol")
        seen.append((box["x"], lane, hover_label(page, points.nth(i)), fill, symbol))
    seen.sort()  # oldest on the left: the x axis is time
    for event, (_, lane, label, fill, symbol) in zip(events, seen):
        assert event["title"] in label and event["type"].replace("_", " ") in label and event["severity"] in label
        assert (", ".join(event["agents"]) if event["agents"] else "fleet-wide") in label
        assert event["occurred_at"].strftime("%Y-%m-%d %H:%M") in label  # the time, in UTC
        assert lane == (event["agents"] or ["fleet"])[0]
        assert fill == SEVERITY_FILLS[event["severity"]] and symbol == SEVERITY_SYMBOLS[event["severity"]]

    # One legend entry per severity, present or not, so the key never changes under the user.
    legend = page.locator("#timeline .legend .traces text").all_text_contents()
    assert legend == ["info", "low", "medium", "high", "critical"]
    assert page.locator("#timeline .rangeslider-container").count() == 0
    assert problems == []


def test_list_shows_the_same_events_newest_first(page, auth, events, problems):
    log_in(page, auth)
    assert event_rows(page) == [
        ("Artifact proxy unreachable", "medium", "fleet"),
        ("Maven 3.9.5 to 3.9.6", "info", "linux-02"),
        ("JDK 17.0.8 to 17.0.9", "high", "linux-01"),
    ]
    assert page.locator("#timeline-summary strong").inner_text() == "3"
    times = page.locator("#event-list time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert times == sorted(times, reverse=True)
    assert problems == []


def test_filter_by_agent_date_and_type_shows_exactly_the_matching_events(page, auth, events, problems):
    log_in(page, auth)
    open_filters(page)
    page.fill("#f-agent", "linux-01, linux-02")
    page.check("#f-type input[value=tool_update]")
    page.click("#ledger-filters button[type=submit]")
    page.wait_for_selector("#timeline[data-ready]")
    assert "agent=linux-01" in page.url and "type=tool_update" in page.url
    assert [r[0] for r in event_rows(page)] == ["Maven 3.9.5 to 3.9.6", "JDK 17.0.8 to 17.0.9"]
    assert lanes(page) == ["fleet", "linux-01", "linux-02"] and markers(page).count() == 2
    chips = page.locator("#active-filters .chip").all_inner_texts()
    assert any("linux-01" in c for c in chips) and any("tool update" in c for c in chips)

    # A date range that holds only the older of the two; the chips say so and remove one at a time.
    older = events[0]["occurred_at"]
    page.goto("/?agent=linux-01&agent=linux-02&type=tool_update&from=%s&to=%s" % (
        (older - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"), (older + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")))
    page.wait_for_selector("#timeline[data-ready]")
    assert [r[0] for r in event_rows(page)] == ["JDK 17.0.8 to 17.0.9"] and markers(page).count() == 1
    page.click("#active-filters .chip:has-text('linux-01') a")
    page.wait_for_selector("#timeline[data-ready]")
    assert "agent=linux-01" not in page.url and "agent=linux-02" in page.url
    assert event_rows(page) == []
    page.click("#clear-filters")
    page.wait_for_selector("#timeline[data-ready]")
    assert path_of(page) == "/" and len(event_rows(page)) == 3
    page.go_back()  # the whole state lives in the URL: back is the previous view
    page.wait_for_load_state()
    assert "agent=linux-02" in page.url
    assert problems == []


def test_filter_matching_nothing_says_so(page, auth, events, problems):
    log_in(page, auth)
    page.goto("/?agent=no-such-agent")
    assert "No events match these filters." in page.locator("#event-list").inner_text()
    assert page.locator("#timeline").inner_text() == "No events in this range match these filters."
    assert markers(page).count() == 0
    assert problems == []


def test_a_dense_range_is_grouped_and_zooming_in_shows_the_events(app, page, auth, problems):
    app.config["TIMELINE_MAX_EVENTS"] = 10
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    with connected(app):
        for i in range(24):  # one an hour on linux-01, the last few high
            record_event({"title": "change %02d" % i, "agents": ["linux-01"], "severity": "high" if i > 20 else "info",
                          "occurred_at": (start + timedelta(hours=i, minutes=10)).isoformat()}, Actor("t"))
    log_in(page, auth)
    banner = page.locator("#timeline-banner").inner_text()
    assert "Grouped:" in banner and "24 markers" in banner and "per hour" in banner
    groups = markers(page)
    assert groups.count() == 24
    label = hover_label(page, groups.last)
    assert "1 event" in label and "click to zoom in" in label

    # Zoom to three hours by dragging across the plot: the chart asks again and draws single events.
    first_hour = start + timedelta(hours=1)
    page.evaluate("([a, b]) => Plotly.relayout('timeline', {'xaxis.range': [a, b]})",
                  [first_hour.strftime("%Y-%m-%d %H:%M:%S"), (first_hour + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")])
    page.wait_for_function("() => new URL(location.href).searchParams.has('from')")
    page.wait_for_function("() => !document.getElementById('timeline').hasAttribute('aria-busy')")
    assert "Grouped:" not in page.locator("#timeline-banner").inner_text()
    assert markers(page).count() == 3
    labels = " ".join(hover_label(page, markers(page).nth(i)) for i in range(3))
    assert all("change %02d" % i in labels for i in (1, 2, 3))
    query = {k: unquote(v) for k, v in re.findall(r"[?&](from|to)=([^&]+)", page.url)}
    assert query["from"].startswith(first_hour.strftime("%Y-%m-%dT%H:%M")) and "range" not in page.url

    # Clicking a group zooms to it as well.
    page.goto("/")
    page.wait_for_selector("#timeline[data-ready]")
    click(page, markers(page).nth(5))
    page.wait_for_function("() => new URL(location.href).searchParams.has('from')")
    page.wait_for_function("() => !document.getElementById('timeline').hasAttribute('aria-busy')")
    assert markers(page).count() == 1 and "Grouped:" not in page.locator("#timeline-banner").inner_text()
    assert problems == []


def test_lanes_are_paged_and_the_page_says_what_it_leaves_out(app, page, auth, problems):
    now = datetime.now(timezone.utc)
    with connected(app):
        for i in range(30):
            for _ in range(1 + i % 3):
                record_event({"title": "on agent-%02d" % i, "agents": ["agent-%02d" % i],
                              "occurred_at": (now - timedelta(hours=i + 1)).isoformat()}, Actor("t"))
    log_in(page, auth)
    assert page.locator("#lane-range").inner_text() == "Agents 1–25 of 30 + fleet"
    assert "5 more agents have events here" in page.locator("#timeline-banner").inner_text()
    shown = lanes(page)
    assert shown[0] == "fleet" and len(shown) == 26
    assert shown[1:10] == ["agent-02", "agent-05", "agent-08", "agent-11", "agent-14", "agent-17", "agent-20",
                           "agent-23", "agent-26"]  # the busiest first (three events each), then by name
    page.click("#lane-pager a[rel=next]")
    page.wait_for_selector("#timeline[data-ready]")
    assert page.locator("#lane-range").inner_text() == "Agents 26–30 of 30 + fleet"
    assert len(lanes(page)) == 6

    page.fill("#lane-filter", "agent-1")
    page.click("#lane-form button[type=submit]")
    page.wait_for_selector("#timeline[data-ready]")
    assert lanes(page) == ["fleet"] + ["agent-1%d" % i for i in (1, 4, 7, 0, 3, 6, 9, 2, 5, 8)]
    assert page.locator("#lane-range").inner_text() == "Agents 1–10 of 10 + fleet"
    assert problems == []


def test_click_a_marker_to_open_its_event(page, auth, events, problems):
    log_in(page, auth)
    target = next(i for i in range(3) if "Maven" in hover_label(page, markers(page).nth(i)))
    click(page, markers(page).nth(target))
    page.wait_for_url(re.compile(r"/events/%d$" % events[1]["id"]))
    assert page.locator("h1").inner_text() == "Maven 3.9.5 to 3.9.6"
    assert problems == []


def test_range_buttons_set_a_relative_range(page, auth, events, problems):
    log_in(page, auth)
    page.click(".ranges a:has-text('24h')")
    page.wait_for_selector("#timeline[data-ready]")
    assert "range=24h" in page.url and page.locator(".ranges a[aria-current=true]").inner_text() == "24h"
    assert len(event_rows(page)) == 3
    page.click(".ranges a:has-text('1h')")
    page.wait_for_selector("#timeline[data-ready]")
    assert event_rows(page) == []  # the newest is an hour old: just outside
    assert problems == []


def test_an_editor_reports_an_outage_in_two_clicks_and_ends_it(app, page, auth, problems):
    log_in(page, auth, "editor", "editor")
    page.click("#report-outage")  # 1
    assert page.locator("#outage-dialog").evaluate("el => el.open")
    page.click("#outage-form button[type=submit]")  # 2
    page.wait_for_selector("#timeline[data-ready]")
    assert "Recorded the outage “Outage”; end it from its page when it is over." in page.locator(".flash").inner_text()
    with connected(app):
        outage = Event.get(Event.type == "outage")
        assert outage.ended_at is None and outage.severity == "high" and outage.source == "manual"
    ongoing = page.locator("#ongoing")
    assert "Outage" in ongoing.inner_text() and "fleet-wide" in ongoing.inner_text()
    bars = page.locator("#timeline .barlayer .bars path")
    assert bars.count() == 1  # an ongoing outage runs to now as a bar, which answers a hover along its length
    box = bars.first.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    page.locator("#timeline .hoverlayer .hovertext").first.wait_for(state="visible", timeout=5000)
    assert "still going on" in " ".join(page.locator("#timeline .hoverlayer .hovertext").all_text_contents())
    page.mouse.move(1, 1)

    page.click("#ongoing button:has-text('End it now')")
    page.wait_for_selector("#timeline[data-ready]")
    assert "Ended “Outage”" in page.locator(".flash").inner_text()
    assert page.locator("#ongoing").count() == 0
    with connected(app):
        assert Event.get(Event.type == "outage").ended_at is not None
    assert problems == []


def test_a_viewer_sees_no_outage_button(page, auth, events, problems):
    log_in(page, auth)
    assert page.locator("#report-outage").count() == 0 and page.locator("#outage-dialog").count() == 0
    assert problems == []


MARKUP = '<a href="https://evil.example/x">x</a><img src=x onerror="alert(1)">'


def test_names_full_of_markup_stay_text_in_labels_and_hovers(app, page, auth, problems):
    agent = '<a href="javascript:alert(1)">agent</a>'  # names may not hold '//': they end URL paths
    with connected(app):
        record_event({"title": "Title " + MARKUP, "agents": [agent], "tags": ["<b>tag</b>"],
                      "occurred_at": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}, Actor("t"))
    log_in(page, auth)
    assert agent in lanes(page)  # the tick shows the characters, not a link
    assert page.locator("#timeline a, #timeline img").count() == 0
    label = hover_label(page, markers(page).first)
    assert "Title " + MARKUP in label and agent in label
    assert page.locator("#timeline a, #timeline img").count() == 0
    assert page.evaluate("() => document.querySelectorAll('a[href^=\"https://evil\"]').length") == 0
    assert problems == []


def test_times_in_utc_or_the_browsers_zone_and_the_choice_stays(browser, live_server, auth, events):
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Kolkata")  # UTC+05:30
    page = context.new_page()
    try:
        log_in(page, auth)
        first = events[0]["occurred_at"]
        row_time = page.locator("#event-list tr:last-child time")
        assert row_time.inner_text() == first.strftime("%Y-%m-%d %H:%M")
        assert page.evaluate("() => document.getElementById('timeline').layout.xaxis.title.text") == "Time (UTC)"
        page.select_option("#zone", "local")
        assert row_time.inner_text() == (first + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
        assert page.evaluate("() => document.getElementById('timeline').layout.xaxis.title.text") in (
            "Time (Asia/Kolkata)", "Time (Asia/Calcutta)")  # the browser's own name for the zone
        page.reload()
        page.wait_for_selector("#timeline[data-ready]")
        assert page.locator("#zone").input_value() == "local"
        assert page.locator("#event-list tr:last-child time").inner_text() == (
            first + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
    finally:
        context.close()


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
    page.hover("#timeline .main-svg")  # the mode bar shows on hover
    titles = page.locator("#timeline .modebar-btn").evaluate_all("els => els.map(e => e.getAttribute('data-title'))")
    assert "Download plot as a PNG" in titles
    assert not [t for t in titles if "share" in t.lower() or "cloud" in t.lower() or "chart studio" in t.lower()], titles
    assert problems == []


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshot_with_demo_data(app, page, auth, problems, width):
    from app.ops.demo import seed_events

    with connected(app):
        seed_events()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, auth, "editor", "editor")
    assert lanes(page)[0] == "fleet"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / ("timeline-demo-%d.png" % width)), full_page=True)
    # Nothing sticks out sideways on a phone: the page scrolls down, not across.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert problems == []
