"""Every catalogue, fleet, import, token, admin and error page in Debian's chromium, as viewer, editor and admin:
the same look (top bar, one h1), no console errors, no edit control for a viewer, keyboard use, axe-core's WCAG 2
A/AA rules (labels, contrast, names), no sideways scrolling on a 390 px phone; and screenshots of the main pages at
1,280 and 390 px into test-results/screenshots/."""
import os
from datetime import datetime, timedelta, timezone

import pytest
from axe_playwright_python.sync_playwright import Axe

from app import ROOT
from app.accounts.audit import Actor
from app.db import utcnow
from app.ingest import inbox
from app.ops.demo import seed_events
from app.polling import snapshots
from app.polling.collectors.agent_config import parse_agent_config
from tests.conftest import connected
from tests.fakes.jenkins import agent_config
from tests.web.pages_support import log_in
from tests.webhook_support import deliver, make_source

pytestmark = pytest.mark.browser

SCREENSHOTS = os.path.join(ROOT, "test-results", "screenshots")
POLLER = Actor("poller")
TOOLS = {"JDK 17": "/opt/jdk-17.0.9", "JDK 21": "/opt/jdk-21.0.2", "Maven": "/opt/apache-maven-3.9.6",
         "Gradle": "/opt/gradle-8.5", "Node.js": "/opt/node-v20.11.0", "Git": "/usr/lib/git-core-2.43.0",
         "Docker CLI": "/usr/libexec/docker-24.0.7", "Python": "/opt/python-3.11.7"}
AGENTS = (["linux-%02d" % i for i in range(1, 31)] + ["win-%02d" % i for i in range(1, 6)]
          + ["mac-%02d" % i for i in range(1, 4)])
# (page, path, lowest role that may open it)
PAGES = [
    ("agents", "/agents", "viewer"),
    ("agent", "/agents/linux-07", "viewer"),
    ("tools", "/tools", "viewer"),
    ("tool", "/tools/jdk-17", "viewer"),
    ("toolchains", "/toolchains", "viewer"),
    ("toolchain", "/toolchains/java", "viewer"),
    ("fleet", "/fleet", "viewer"),
    ("fleet-filtered", "/fleet?drifting=on&odd=on", "viewer"),
    ("tokens", "/account/tokens", "viewer"),
    ("import", "/import", "editor"),
    ("users", "/admin/users", "admin"),
    ("audit", "/admin/audit", "admin"),
    ("sources", "/admin/sources", "admin"),
    ("source", "/admin/sources/ci-hooks", "admin"),
    ("inbox", "/admin/inbox", "admin"),
    ("not-found", "/agents/no-such-agent", "viewer"),
]
LEVEL = {"viewer": 1, "editor": 2, "admin": 3}
IMPORT_CSV = ("title,type,severity,occurred_at,agents,tools\n"
              "Relabelled linux-12 by hand,agent_config,medium,2026-11-20T10:00:00Z,linux-12,\n"
              "Gradle 8.5 → 8.6,tool_update,low,2026-11-20T10:30:00Z,linux-01;linux-02,Gradle\n"
              "Proxy outage,outage,urgent,2026-11-20T11:00:00Z,,\n"
              "Node.js 20.11.1,tool_update,info,2026-11-20T12:00:00Z,mac-01,Node.js\n")


@pytest.fixture
def fleet(app):
    """Demo events, a fleet of 38 agents with 8 tools observed by the Jenkins poller (a few drifting, some by a
    recorded change), a webhook source with a dead letter."""
    start = utcnow().replace(tzinfo=timezone.utc) - timedelta(hours=6)
    with connected(app):
        seed_events(now=datetime.now(timezone.utc))

        def observe(name, minutes, **homes):
            tools = dict(TOOLS, **homes)
            content = parse_agent_config(agent_config(name, labels="linux docker" if name.startswith("linux") else
                                                      name.split("-")[0], tools=tools))
            content.update(name=name, controller="ci", observed={"offline": name == "win-05"})
            snapshots.submit("jenkins_agent", "ci/" + name, start + timedelta(minutes=minutes), content, actor=POLLER)

        for name in AGENTS:
            observe(name, 0, **({"Maven": "/opt/apache-maven-3.8.8"} if name in ("win-02", "win-03") else {}))
        observe("linux-07", 60, **{"JDK 17": "/opt/jdk-17.0.10"})
        observe("mac-01", 90, **{"Node.js": "/opt/node-v18.19.0"})
        observe("linux-22", 120, **{"Docker CLI": "/usr/libexec/docker-25.0.1"})
        from app.ledger import catalogue
        catalogue.create_item(catalogue.TOOLCHAINS, {"name": "java", "description": "JVM builds",
                                                     "tools": ["jdk-17", "maven-3", "JDK 17", "Maven"]})
    make_source(app, "ci-hooks", "generic", mapping={"fields": {"title": "what"}})
    return start


@pytest.fixture
def dead_letter(app, client, fleet):
    deliver(client, "generic", "ci-hooks", b'{"deployment": {"service": "billing", "version": "4.2.0"}}')
    with connected(app):
        inbox.drain("w", inbox.Settings())


def expected_status(path, role, lowest):
    if LEVEL[role] < LEVEL[lowest]:
        return 403
    return 404 if "no-such" in path else 200


def failed_loads(problems, *statuses):
    """``problems`` less Chromium's own log line for a page answered with one of the expected error statuses."""
    expected = tuple("console error: Failed to load resource: the server responded with a status of %d " % s
                     for s in statuses)
    return [p for p in problems if not p.startswith(expected)]


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_every_page_as_each_role_looks_the_same_and_logs_no_error(page, auth, fleet, dead_letter, role, problems):
    log_in(page, auth, role)
    for name, path, lowest in PAGES:
        response = page.goto(path)
        status = expected_status(path, role, lowest)
        assert response.status == status, (path, role)
        assert page.locator("header.topbar").is_visible(), path
        assert page.locator("header.topbar .whoami span").inner_text() == "%s · %s" % (role, role)
        assert page.locator("main h1").count() == 1 and page.locator("main h1").inner_text().strip(), path
        assert page.title().endswith("· Change Tracker"), path
        assert page.locator("link[href='/static/css/pages.css']").count() == 1, path
        if status == 403:
            assert page.locator("main h1").inner_text() == "Not allowed"
        nav = page.locator("header nav").inner_text()
        assert ("Import" in nav) == (LEVEL[role] >= 2) and ("Inbox" in nav) == (role == "admin"), path
    assert failed_loads(problems, 403, 404) == []


def test_a_viewer_sees_no_edit_control_on_these_pages(page, auth, fleet, problems):
    log_in(page, auth, "viewer")
    for name, path, lowest in PAGES:
        if lowest != "viewer" or name in ("tokens", "not-found"):
            continue
        page.goto(path)
        assert page.locator("main form[method=post]").count() == 0, path
        assert page.locator("#edit-item, #confirm-import, button.danger").count() == 0, path
    page.goto("/agents/linux-07")
    assert page.locator("header nav a:has-text('Record change')").count() == 0
    assert problems == []


def test_keyboard_skip_link_then_the_page_and_the_fleet_matrix_scrolls_by_keys(page, auth, fleet, problems):
    log_in(page, auth, "viewer")
    page.goto("/agents")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
    # The search field is reached by Tab, typed into, and Enter searches.
    for _ in range(5):
        if page.evaluate("document.activeElement.id") == "f-q":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-q"
    page.keyboard.type("win-0")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#agent-list tbody tr").count() == 5

    page.set_viewport_size({"width": 390, "height": 844})  # on a phone the matrix is wider than the screen
    page.goto("/fleet")
    matrix = page.locator(".matrix-wrap").first
    assert matrix.evaluate("element => element.scrollWidth > element.clientWidth")
    matrix.focus()
    page.keyboard.press("ArrowRight")
    # Chromium animates a scroll by keys: scrollLeft moves over the next frames, and may still be 0 when press()
    # returns on a busy machine.
    page.wait_for_function("element => element.scrollLeft > 0", arg=matrix.element_handle(), timeout=5000)
    assert problems == []


WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}


def violations(page):
    """axe-core's WCAG 2 A/AA violations on the page as "rule: [first targets]"."""
    found = Axe().run(page, options=WCAG).response["violations"]
    return ["%s: %s" % (v["id"], [n["target"] for n in v["nodes"]][:5]) for v in found]


def test_axe_finds_no_wcag_a_or_aa_violation(page, auth, fleet, dead_letter):
    log_in(page, auth, "admin")  # who sees the most controls
    found = {}
    for name, path, _ in PAGES:
        page.goto(path)
        found[name] = violations(page)
    assert found == {name: [] for name, _, _ in PAGES}


def test_the_import_report_is_accessible_too(page, auth, fleet, tmp_path):
    log_in(page, auth, "editor")
    file = tmp_path / "changes.csv"
    file.write_text(IMPORT_CSV, encoding="utf-8")
    page.goto("/import")
    page.set_input_files("#f-file", str(file))
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert violations(page) == []


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_scrolls_sideways(page, auth, fleet, dead_letter, width):
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 800})
    log_in(page, auth, "admin")
    for name, path, _ in PAGES:
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "%s scrolls sideways by %d px at %d px" % (path, overflow, width)


def test_screenshots_of_the_main_pages(page, auth, fleet, dead_letter, tmp_path, problems):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    report, fixed = tmp_path / "changes.csv", tmp_path / "changes-fixed.csv"
    report.write_text(IMPORT_CSV, encoding="utf-8")
    log_in(page, auth, "admin")
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for name, path in (("agents", "/agents"), ("agent", "/agents/linux-07"), ("fleet", "/fleet"),
                           ("tool", "/tools/JDK 17"), ("inbox", "/admin/inbox")):
            page.goto(path)
            page.screenshot(path=os.path.join(SCREENSHOTS, "%s-%d.png" % (name, width)), full_page=True)
        page.goto("/account/tokens")
        page.fill("#token-name", "nightly-poller-%d" % width)
        with page.expect_navigation():
            page.click("button:has-text('Create token')")
        page.screenshot(path=os.path.join(SCREENSHOTS, "tokens-%d.png" % width), full_page=True)
        page.goto("/import")
        page.set_input_files("#f-file", str(report))
        with page.expect_navigation():
            page.click("#import-form button[type=submit]")
        page.screenshot(path=os.path.join(SCREENSHOTS, "import-report-%d.png" % width), full_page=True)
        fixed.write_text(IMPORT_CSV.replace("urgent", "critical"), encoding="utf-8")
        page.set_input_files("#f-file", str(fixed))
        with page.expect_navigation():
            page.click("#import-form button[type=submit]")
        page.screenshot(path=os.path.join(SCREENSHOTS, "import-confirm-%d.png" % width), full_page=True)
    assert failed_loads(problems, 422) == []
    assert {"%s-%d.png" % (n, w) for n in ("agents", "agent", "fleet", "tool", "inbox", "tokens", "import-report",
                                           "import-confirm")
            for w in (390, 1280)} <= set(os.listdir(SCREENSHOTS))
