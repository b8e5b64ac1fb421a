"""Screenshots of the main pages on the 1M-event ledger, for people to look at (CI keeps them as artifacts).

    .venv/bin/python -m bench.screenshots                 # into test-results/screenshots/1m/
    .venv/bin/python -m bench.screenshots --events 100000 --out /tmp/shots

Builds (or reuses) bench.ledger's cached ledger, serves it on loopback, logs in with Debian's chromium and saves
each page at 1,280 px wide, and the timeline at 390 px too (a phone). The fleet pages (fleet, fleet-drift,
fleet-phone) come from bench.catalogue_fleet's fleet of 500 agents × 200 tools, built in a temporary folder: the
generated ledger has no observations. Fails when a page answers an error or the browser reports a console error.
"""
import argparse
import logging
import os
import sys
import tempfile
from datetime import timedelta

from bench import dataset
from bench.catalogue_fleet import build_fleet
from bench.ledger import Target, _iso, ledger_arguments
from bench.pages import PASSWORD, app_for

log = logging.getLogger("bench.screenshots")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pages(target):
    end = target.last + timedelta(seconds=1)
    agent = target.agents[7]
    return [
        ("timeline-90d", "/?from=%s&to=%s" % (_iso(end - timedelta(days=90)), _iso(end)), 1280),
        ("timeline-7d", "/?from=%s&to=%s" % (_iso(end - timedelta(days=7)), _iso(end)), 1280),
        ("timeline-1d", "/?from=%s&to=%s" % (_iso(end - timedelta(days=1)), _iso(end)), 1280),
        ("timeline-7d-phone", "/?from=%s&to=%s" % (_iso(end - timedelta(days=7)), _iso(end)), 390),
        ("timeline-one-agent-30d", "/?agent=%s&from=%s&to=%s" % (agent, _iso(end - timedelta(days=30)), _iso(end)), 1280),
        ("events", "/events", 1280),
        ("events-filtered", "/events?agent=%s&severity=high&severity=critical" % agent, 1280),
        ("event", "/events/%d" % target.events, 1280),
        ("agents", "/agents", 1280),
        ("agent", "/agents/%s" % agent, 1280),
        ("suspects", "/suspects?agent=%s&before=%s" % (agent, _iso(end)), 1280),
    ]


FLEET_PAGES = [
    ("fleet", "/fleet", 1280),
    ("fleet-drift", "/fleet?drifting=on&odd=on", 1280),
    ("fleet-phone", "/fleet", 390),
]


def shoot(app, shots, out, problems):
    """Serve ``app`` on loopback, log in as bench-viewer in Debian's chromium and save each (name, url, width) of
    ``shots`` as out/<name>.png; a page that answers an error or logs one to the console goes into ``problems``."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer

    server = LiveServer(app).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append("%s: %s" % (page.url, m.text)) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append("%s: %s" % (page.url, e)))
            page.goto("/login")
            page.fill("input[name=username]", "bench-viewer")
            page.fill("input[name=password]", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_load_state()
            for name, url, width in shots:
                page.set_viewport_size({"width": width, "height": 900})
                response = page.goto(url)
                if response.status >= 400:
                    problems.append("%s answered %d" % (url, response.status))
                if page.locator("#timeline").count():
                    page.wait_for_selector("#timeline[data-ready]", timeout=60000)
                path = os.path.join(out, name + ".png")
                page.screenshot(path=path, full_page=True)
                log.info("%s -> %s", url, os.path.relpath(path, ROOT))
            browser.close()
    finally:
        server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.split("\n\n")[0])
    ledger_arguments(parser)
    parser.add_argument("--out", default=os.path.join(ROOT, "test-results", "screenshots", "1m"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("peewee.migrations").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the loopback server's access log
    os.environ.setdefault("CHANGETRACKER_ENV", "test")
    from app.db import database

    path = dataset.sqlite_ledger(args.events, args.agents, args.days, args.seed)
    os.makedirs(args.out, exist_ok=True)
    problems = []
    with Target("sqlite", "sqlite:///%s" % path) as target:
        shoot(app_for(target.url), pages(target), args.out, problems)
    # The generated ledger holds events, not the pollers' observations, so /fleet would show its empty state there:
    # the fleet pages are shot on bench.catalogue_fleet's fleet of 500 agents × 200 tools instead.
    with tempfile.TemporaryDirectory(prefix="changetracker-fleet-") as folder:
        url = "sqlite:///%s" % os.path.join(folder, "fleet.db")
        build_fleet(url)
        try:
            shoot(app_for(url), FLEET_PAGES, args.out, problems)
        finally:
            database.close()
    for problem in problems:
        log.error("%s", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
