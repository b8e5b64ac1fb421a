"""Debian's prometheus (2.42): `promtool check metrics` on a real scrape, `promtool check rules` on the alert rules
of docs/operations.md, and a real Prometheus server scraping /metrics with its scrape configuration (a bearer
token read from a file)."""
import json
import os
import re
import subprocess
import textwrap
import urllib.parse
import urllib.request

import pytest
import yaml

from tests.conftest import free_port, server_process
from tests.interop.programs import program, wait_for
from tests.webhook_support import ROOT, deliver, fixture_bytes, make_source

pytestmark = pytest.mark.interop


def readme_yaml(after, first_key):
    """The first ```yaml block of docs/operations.md after the text ``after`` whose first key is ``first_key``."""
    with open(os.path.join(ROOT, "docs", "operations.md"), encoding="utf-8") as fh:
        readme = fh.read()
    for block in re.findall(r"```yaml\n(.*?)```", readme[readme.index(after):], re.S):
        document = yaml.safe_load(textwrap.dedent(block))
        if isinstance(document, dict) and first_key in document:
            return document
    raise AssertionError("no YAML block with %r after %r in docs/operations.md" % (first_key, after))


def promtool(*args, stdin=None):
    return subprocess.run([program("promtool"), *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_promtool_finds_nothing_to_lint_in_a_scrape(app, client, auth):
    make_source(app, "hub", "registry")
    deliver(client, "registry", "hub", fixture_bytes("docker-registry-notification-push-envelope.json"),
            "text/plain")  # a refusal, so the refusal counter has a series
    client.get("/api/v1/events", headers=auth.headers("viewer", "read"))  # a histogram with samples
    scrape = client.get("/metrics", headers=auth.headers("viewer", "read")).get_data(as_text=True)
    assert "changetracker_webhook_refused_total" in scrape
    done = promtool("check", "metrics", stdin=scrape)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout + done.stderr


def test_the_readme_alert_rules_pass_promtool(tmp_path):
    rules = readme_yaml("Alerts worth having", "groups")
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert "ChangeTrackerWebhookRefused" in names
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    done = promtool("check", "rules", str(tmp_path / "rules.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: %d rules found" % len(names) in done.stdout


def test_a_real_prometheus_scrapes_with_the_readme_configuration(tmp_path, live_server, auth):
    binary = program("prometheus")
    token = auth.token("viewer", "read")
    (tmp_path / "changetracker.token").write_text(token)
    config = readme_yaml("## Metrics", "scrape_configs")
    [job] = config["scrape_configs"]
    job["authorization"]["credentials_file"] = str(tmp_path / "changetracker.token")
    job["static_configs"] = [{"targets": [live_server.url.split("//", 1)[1]]}]
    config["global"] = {"scrape_interval": "1s"}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    api = "http://127.0.0.1:%d/api/v1/" % port
    command = [binary, "--config.file=%s" % (tmp_path / "prometheus.yml"),
               "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
               "--web.listen-address=127.0.0.1:%d" % port]
    with server_process(command, dict(os.environ), str(tmp_path), api + "status/buildinfo"):

        def query(expr):
            with urllib.request.urlopen(api + "query?" + urllib.parse.urlencode({"query": expr}), timeout=5) as r:
                return json.load(r)["data"]["result"]

        [up] = wait_for(lambda: query('up{job="changetracker"}'), timeout=60, what="a first scrape")
        wait_for(lambda: query('up{job="changetracker"} == 1'), timeout=30, what="a successful scrape: %s" % up)
        assert wait_for(lambda: query("changetracker_build_info"), timeout=30, what="the service's own metrics")
