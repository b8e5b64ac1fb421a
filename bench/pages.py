"""Issue 12's page benchmarks on the 1M-event ledger: what a user waits for on the timeline and the table.

    .venv/bin/python -m bench.pages                      # SQLite, the cached 1M ledger of bench.ledger
    .venv/bin/python -m bench.pages --events 100000      # a quick run
    .venv/bin/python -m bench.pages --no-browser         # server side only

Each row times the real pages through the Flask test client (routing, access rules, the view, the template) and
sets them next to a bare-driver query for the same answer, measured in the same run, alternating:

d. the timeline page (/) for 90 days, every agent (lanes paged, the busiest 25 first): server time and the size of
   the JSON it embeds; baseline: the bare GROUP BY of those 90 days (bench.baselines.timeline).
e. a zoom: GET /api/v1/timeline for one day inside those 90 days, as the page asks it; baseline: the same bare
   GROUP BY for that day.
f. the table (/events, 50 rows): its first page, and page 200 of a keyset walk (the "Older" link followed 199
   times); baseline: the bare page query of bench.ledger's row a.
g. in headless Chromium: from navigation until the chart is drawn (its first plot done) on the 90-day page; baseline:
   a page served by the same process that only loads plotly.js and draws an empty chart.

The machine is shared and noisy: read the medians and ratios. "ours CPU" is the serving process's CPU time per
request (SQLite runs in it), which load from other work cannot inflate. Exit status 1 when a target is missed. The run
adds one user (bench-viewer) to the cached ledger if it is not there.
"""
import argparse
import logging
import os
import random
import re
import statistics
import sys
import time
from datetime import timedelta

from bench import baselines, dataset
from bench.ledger import SEVERITIES, Target, _iso, _ms, _timed, ledger_arguments

log = logging.getLogger("bench.pages")

PAGE_SERVER_MS = 200.0
PAGE_JSON_KB = 500.0
ZOOM_MS = 150.0
TABLE_MS = 100.0
INTERACTIVE_S = 2.0
PASSWORD = "bench-viewer-password-1"


def app_for(url):
    from app import create_app
    from app.accounts import users
    from app.models import User

    app = create_app({"ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "bench-secret-key",
                      "SESSION_COOKIE_SECURE": False, "LOGIN_RATE_LIMIT": "100000 per minute"})
    with app.app_context():
        if not User.select().where(User.username == "bench-viewer").exists():
            users.create_user({"username": "bench-viewer", "role": "viewer", "password": PASSWORD})
    return app


def logged_in(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "bench-viewer", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def _get(client, url):
    response = client.get(url)
    if response.status_code != 200:
        raise AssertionError("%s answered %d" % (url, response.status_code))
    return response.get_data(as_text=True)


CPU = []  # process CPU seconds of each "ours" call of the current row: what load on a shared machine cannot inflate


def _ours_cpu(function):
    def timed(*args):
        started = time.process_time()
        try:
            return function(*args)
        finally:
            CPU.append(time.process_time() - started)
    return timed


def _alternate(cases, ours, bare):
    mine, theirs = [], []
    del CPU[:]
    ours = _ours_cpu(ours)
    for number, case in enumerate(cases):
        order = ((ours, mine), (bare, theirs)) if number % 2 else ((bare, theirs), (ours, mine))
        for function, samples in order:
            samples.append(_timed(function, *case)[0])
    return mine, theirs


def measure_timeline_page(target, client, runs, seed):
    rng = random.Random(seed)
    cases = [target.window(rng, 90) for _ in range(runs)]
    sizes = []

    def ours(start, end):
        html = _get(client, "/?from=%s&to=%s" % (_iso(start), _iso(end)))
        data = html.split('<script type="application/json" id="timeline-data">', 1)[1].split("</script>", 1)[0]
        sizes.append(len(data.encode()))

    def bare(start, end):
        baselines.timeline(target.bare, target.dialect, target.stamp(start), target.stamp(end))

    ours(*cases[0]), bare(*cases[0])  # warm
    mine, theirs = _alternate(cases, ours, bare)
    return {"ours": mine, "bare": theirs, "json": sizes, "cpu": list(CPU)}


def measure_zoom(target, client, runs, seed):
    rng = random.Random(seed)
    cases = [target.window(rng, 1) for _ in range(runs)]

    def ours(start, end):
        _get(client, "/api/v1/timeline?from=%s&to=%s&lane_limit=25&lane_order=activity&detail=summary"
             % (_iso(start), _iso(end)))

    def bare(start, end):
        baselines.timeline(target.bare, target.dialect, target.stamp(start), target.stamp(end))

    ours(*cases[0]), bare(*cases[0])
    mine, theirs = _alternate(cases, ours, bare)
    return {"ours": mine, "bare": theirs, "cpu": list(CPU)}


def measure_table(target, client, runs, seed, depth=200):
    rng = random.Random(seed)
    first_page, first_cpu, deep_cpu = [], [], []
    for _ in range(runs):
        started = time.process_time()
        first_page.append(_timed(_get, client, "/events?limit=50")[0])
        first_cpu.append(time.process_time() - started)
    # Page `depth` of a keyset walk: follow the "Older" link, then time that deep page against the bare query.
    url = "/events?limit=50"
    for _ in range(depth - 1):
        html = _get(client, url)
        url = re.search(r'<a href="([^"]+)" rel="next" id="next-page"', html).group(1).replace("&amp;", "&")
    deep, bare_deep = [], []
    start, end = target.first, target.last + timedelta(seconds=1)
    def deep_page():
        started = time.process_time()
        _get(client, url)
        deep_cpu.append(time.process_time() - started)

    for number in range(runs):
        order = ((deep_page, deep),
                 (lambda: baselines.page(target.bare, target.dialect, target.stamp(start), target.stamp(end),
                                         rng.sample(target.agents, 5), SEVERITIES[:2]), bare_deep))
        for function, samples in order if number % 2 else order[::-1]:
            samples.append(_timed(function)[0])
    return {"first": first_page, "deep": deep, "bare": bare_deep, "depth": depth, "first_cpu": first_cpu,
            "deep_cpu": deep_cpu}


def measure_browser(target, app, runs, seed):
    """Seconds from navigation to the first plotly_afterplot, for the 90-day page and for plotly.js alone."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer

    app.config["SESSION_COOKIE_SECURE"] = False
    rng = random.Random(seed)
    start, end = target.window(rng, 90)
    server = LiveServer(app).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=server.url, viewport={"width": 1280, "height": 900})
            page.goto("/login")
            page.fill("input[name=username]", "bench-viewer")
            page.fill("input[name=password]", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_load_state()
            ours, bare = [], []
            for number in range(runs + 1):
                for which in (("ours", "bare") if number % 2 else ("bare", "ours")):
                    if which == "ours":
                        page.goto("/?from=%s&to=%s" % (_iso(start), _iso(end)), wait_until="commit")
                        page.wait_for_selector("#timeline[data-ready]", timeout=60000)
                    else:
                        page.goto("/__bench/plotly", wait_until="commit")
                        page.wait_for_selector("#bare .main-svg", timeout=60000)
                    # performance.now() counts from the start of this navigation.
                    seconds = page.evaluate("() => performance.now()") / 1000.0
                    if number:  # the first round warms the caches
                        (ours if which == "ours" else bare).append(seconds)
            browser.close()
    finally:
        server.stop()
    return {"ours": ours, "bare": bare}


def bare_plotly_page(app):
    """/__bench/plotly: plotly.js from the service and an empty chart, nothing else (the browser baseline)."""
    from flask import url_for

    @app.get("/__bench/plotly")
    def bare_plotly():
        return ('<!doctype html><html><body><div id="bare"></div><script src="%s"></script>'
                '<script src="/__bench/plotly.js"></script></body></html>' % url_for("assets.plotly_js"))

    @app.get("/__bench/plotly.js")
    def bare_plotly_script():
        return ("Plotly.newPlot('bare', [{x: [], y: [], type: 'scatter'}], {height: 700});",
                200, {"Content-Type": "text/javascript"})

    from app.accounts import access

    access.RULES.update({"bare_plotly": access.READ, "bare_plotly_script": access.READ})


def _verdict(ok):
    return "ok" if ok else "MISSED"


def table(r):
    rows = [("measurement", "ours median", "ours p95|max", "ours CPU", "bare median", "ours/bare", "target", "")]

    def cpu(samples):
        return "%.0f ms" % _ms(statistics.median(samples)) if samples else ""
    tp = r["timeline_page"]
    pm, bm = _ms(statistics.median(tp["ours"])), _ms(statistics.median(tp["bare"]))
    rows.append(("d. timeline page /: 90 d, all agents, server", "%.0f ms" % pm, "%.0f ms" % _ms(max(tp["ours"])),
                 cpu(tp["cpu"]), "%.0f ms" % bm, "%.2fx" % (pm / bm), "<= %.0f ms" % PAGE_SERVER_MS, _verdict(pm <= PAGE_SERVER_MS)))
    kb = max(tp["json"]) / 1024
    rows.append(("d. timeline page: its JSON", "%.0f KB" % (statistics.median(tp["json"]) / 1024), "%.0f KB" % kb,
                 "", "", "", "<= %.0f KB" % PAGE_JSON_KB, _verdict(kb <= PAGE_JSON_KB)))
    z = r["zoom"]
    zm, bm = _ms(statistics.median(z["ours"])), _ms(statistics.median(z["bare"]))
    rows.append(("e. zoom: /api/v1/timeline, 1 d, 25 lanes", "%.0f ms" % zm, "%.0f ms" % _ms(max(z["ours"])),
                 cpu(z["cpu"]), "%.1f ms" % bm, "%.1fx" % (zm / bm), "<= %.0f ms" % ZOOM_MS, _verdict(zm <= ZOOM_MS)))
    t = r["table"]
    fm, dm, bm = (_ms(statistics.median(t[k])) for k in ("first", "deep", "bare"))
    rows.append(("f. table /events: first page of 50", "%.0f ms" % fm, "%.0f ms" % _ms(max(t["first"])),
                 cpu(t["first_cpu"]), "%.1f ms" % bm, "%.1fx" % (fm / bm), "<= %.0f ms" % TABLE_MS, _verdict(fm <= TABLE_MS)))
    rows.append(("f. table /events: page %d of the walk" % t["depth"], "%.0f ms" % dm, "%.0f ms" % _ms(max(t["deep"])),
                 cpu(t["deep_cpu"]), "%.1f ms" % bm, "%.1fx" % (dm / bm), "<= %.0f ms" % TABLE_MS, _verdict(dm <= TABLE_MS)))
    if r.get("browser"):
        b = r["browser"]
        om, bm = statistics.median(b["ours"]), statistics.median(b["bare"])
        rows.append(("g. chromium: navigation to chart drawn", "%.2f s" % om, "%.2f s" % max(b["ours"]), "",
                     "%.2f s" % bm, "%.1fx" % (om / bm), "<= %.0f s" % INTERACTIVE_S, _verdict(om <= INTERACTIVE_S)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines), all(row[-1] != "MISSED" for row in rows[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n\n")[0])
    ledger_arguments(parser)
    parser.add_argument("--runs", type=int, default=15, help="samples per row (the browser row: a third of it)")
    parser.add_argument("--no-browser", action="store_true", help="skip row g (headless Chromium)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("peewee.migrations").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the loopback server's access log
    os.environ.setdefault("CHANGETRACKER_ENV", "test")
    path = dataset.sqlite_ledger(args.events, args.agents, args.days, args.seed)
    load_before = os.getloadavg()[0]
    with Target("sqlite", "sqlite:///%s" % path) as target:
        app = app_for(target.url)
        bare_plotly_page(app)
        client = logged_in(app)
        results = {}
        log.info("d. the 90-day timeline page x %d", args.runs)
        results["timeline_page"] = measure_timeline_page(target, client, args.runs, args.seed + 11)
        log.info("e. zoom re-queries x %d", args.runs)
        results["zoom"] = measure_zoom(target, client, args.runs, args.seed + 12)
        log.info("f. the table, first page and page 200 x %d", args.runs)
        results["table"] = measure_table(target, client, args.runs, args.seed + 13)
        if not args.no_browser:
            log.info("g. headless chromium x %d", max(3, args.runs // 3))
            results["browser"] = measure_browser(target, app, max(3, args.runs // 3), args.seed + 14)
    report, met = table(results)
    print("\n%d events; %s; %d CPUs, load average %.1f at start, %.1f at end\n" % (
        target.events, time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), load_before, os.getloadavg()[0]))
    print(report)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
