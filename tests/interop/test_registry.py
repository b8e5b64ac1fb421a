"""Debian's docker-registry (2.8, the code of the registry:2 image) with its notifications pointed at a live
service, exactly as docs/webhooks.md configures it; images built here as OCI layouts and pushed, re-tagged, pulled and
deleted with skopeo; the registry poller against the same registry.

One event per push or delete with its before/after digests, none per pull, retried deliveries never doubled, and
one event in all for a tag move that both the webhook and the poller see, whichever sees it first.
"""
import http.server
import os
import re
import subprocess
import textwrap
import threading
import urllib.request

import pytest
import yaml

from app.ingest import inbox
from app.ledger import events
from app.models import Event, InboxItem
from app.polling import runner
from app.polling.collectors.config import PollerSettings, Registry
from tests.conftest import connected, free_port, server_process
from tests.interop.programs import oci_layout, program, wait_for
from tests.webhook_support import ROOT, SECRET, make_source

pytestmark = pytest.mark.interop


def readme_registry_config():
    """The registry `config.yml` lines of docs/webhooks.md, parsed."""
    with open(os.path.join(ROOT, "docs", "webhooks.md"), encoding="utf-8") as fh:
        doc = fh.read()
    start = doc.index("### Docker Registry (distribution 2.x and 3.x)")
    block = re.search(r"```yaml\n(.*?)```", doc[start:], re.S).group(1)
    return yaml.safe_load(textwrap.dedent(block))


class FlakyProxy:
    """Forwards the registry's notifications to the service. While ``fail`` > 0 it forwards and then answers 503
    anyway (the service has stored the delivery, the registry believes it failed and sends it again); while
    ``hold`` is set it answers 503 without forwarding (the service is unreachable)."""

    def __init__(self, target):
        self.target, self.fail, self.hold, self.answers = target, 0, False, []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 503
                if not proxy.hold:
                    request = urllib.request.Request(proxy.target + self.path, data=body, method="POST", headers={
                        name: self.headers[name] for name in ("Content-Type", "Authorization") if name in self.headers})
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status = response.status
                    if proxy.fail > 0:
                        proxy.fail, status = proxy.fail - 1, 503
                proxy.answers.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry(tmp_path, live_server):
    """docker-registry on a free loopback port, notifying the live service through a FlakyProxy."""
    binary = program("docker-registry")
    proxy = FlakyProxy(live_server.url)
    config = readme_registry_config()
    [endpoint] = config["notifications"]["endpoints"]
    endpoint["url"] = endpoint["url"].replace("https://tracker.example.com", proxy.url)
    endpoint["headers"]["Authorization"] = [value.replace("<secret>", SECRET)
                                            for value in endpoint["headers"]["Authorization"]]
    port = free_port()
    config.update(version=0.1, log={"level": "warn"},
                  storage={"filesystem": {"rootdirectory": str(tmp_path / "storage")}, "delete": {"enabled": True}},
                  http={"addr": "127.0.0.1:%d" % port})
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    address = "127.0.0.1:%d" % port
    with server_process([binary, "serve", str(tmp_path / "config.yml")], dict(os.environ), str(tmp_path),
                        "http://%s/v2/" % address):
        yield address, proxy
    proxy.close()


def skopeo(*args):
    command = [program("skopeo"), "--insecure-policy", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, "%s: %s" % (" ".join(command), done.stderr)
    return done.stdout


def rows(app):
    with connected(app):
        return InboxItem.select().count()


def drain(app):
    with connected(app):
        return inbox.drain("interop", inbox.Settings())


def image_events(app):
    with connected(app):
        found = Event.select().where(Event.type == "docker_image").order_by(Event.occurred_at, Event.id)
        return [events.get_event(e.id) for e in found]


def moves(app):
    """(source, tools, before, after) of each image event; the poller's before is what it saw last, not asked."""
    found = []
    for event in image_events(app):
        [change] = [c for c in event["changes"] if c["path"] in ("digest",) + tuple(event["tools"])]
        found.append((event["source"], event["tools"], change["before"] if event["source"] == "webhook" else None,
                      change["after"]))
    return found


def poll(app, address):
    settings = PollerSettings(registries=(Registry(name="hub", url="http://" + address,
                                                   images=("library/demo:1.0",), retries=0),))
    with connected(app):
        return runner.run_pollers(["registry"], settings=settings)["pollers"][0]


def test_pushes_tags_pulls_and_deletes_through_the_real_registry(app, registry, tmp_path):
    address, proxy = registry
    make_source(app, "hub", "registry", mapping={})  # every repository, the default
    demo = "docker://%s/library/demo" % address
    digest_1 = oci_layout(str(tmp_path / "one"), "release 1")
    digest_2 = oci_layout(str(tmp_path / "two"), "release 2")
    digest_3 = oci_layout(str(tmp_path / "three"), "release 3")

    # A first push, whose notification the service stores but the registry is told failed, twice: three
    # deliveries of one envelope, one event.
    proxy.fail = 2
    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", "oci:%s" % (tmp_path / "one"), demo + ":1.0")
    wait_for(lambda: rows(app) >= 3, what="the first push and its two retries")
    drain(app)
    assert moves(app) == [("webhook", ["library/demo:1.0"], None, digest_1)]
    assert proxy.answers[:3] == [503, 503, 202]

    # The poller's baseline, then the tag moves: the webhook reports it first, the poller sees it afterwards.
    assert poll(app, address)["events"] == 0
    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", "oci:%s" % (tmp_path / "two"), demo + ":1.0")
    wait_for(lambda: rows(app) >= 4, what="the second push")
    drain(app)
    seen = poll(app, address)
    assert (seen["observed"], seen["events"]) == (1, 1)  # the move is the webhook's event, not a new one
    assert poll(app, address)["events"] == 0  # unchanged
    assert moves(app)[1:] == [("webhook", ["library/demo:1.0"], digest_1, digest_2)]

    # The service unreachable: the poller sees the next move first, the webhook arrives later and adds nothing.
    proxy.hold = True
    before = len(proxy.answers)
    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false", "oci:%s" % (tmp_path / "three"), demo + ":1.0")
    wait_for(lambda: len(proxy.answers) > before, what="the registry to try the third push")
    assert poll(app, address)["events"] == 1
    proxy.hold = False
    wait_for(lambda: rows(app) >= 5, what="the held push to arrive")
    drain(app)
    assert moves(app)[2:] == [("poller", ["library/demo:1.0"], None, digest_3)]

    # Re-tag 1.0 as latest (a pull and a push), pull it, inspect it: one event, for the new tag.
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", demo + ":1.0", demo + ":latest")
    skopeo("copy", "--src-tls-verify=false", demo + ":latest", "oci:%s:pulled" % (tmp_path / "pulled"))
    skopeo("inspect", "--tls-verify=false", demo + ":1.0")
    wait_for(lambda: rows(app) >= 6, what="the re-tag")
    drain(app)
    assert moves(app)[3:] == [("webhook", ["library/demo:latest"], None, digest_3)]

    # Delete by tag: the registry deletes the manifest, so both tags pointing at it go: one event per tag.
    skopeo("delete", "--tls-verify=false", demo + ":latest")
    wait_for(lambda: rows(app) >= 9, what="the manifest delete and the two tag deletes")
    drain(app)
    deleted = sorted((e["title"], e["changes"][0]["before"]) for e in image_events(app)[4:])
    short = digest_3[:19]
    assert deleted == [("library/demo:1.0 deleted (%s)" % short, digest_3),
                       ("library/demo:latest deleted (%s)" % short, digest_3)]

    with connected(app):
        states = [item.state for item in InboxItem.select().order_by(InboxItem.id)]
    assert len(image_events(app)) == 6
    # Every pull and HEAD (skopeo's and the poller's) was dropped at receipt: the rows are the pushes (the first
    # one three times), the manifest delete (ignored: its tags are reported one by one) and the tag deletes.
    assert len(states) == 9 and states.count("ignored") == 1, states
