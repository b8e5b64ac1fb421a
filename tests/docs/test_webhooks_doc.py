"""docs/webhooks.md's shell examples, run as printed against a live tracker: a token from the CLI, a secret generated
first and kept, a Jenkins source and a generic one, and the signed delivery that the worker turns into an event. The
generic mapping is the one /admin/sources fills in and the README's walkthrough uses."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from app import ROOT
from app.ingest import inbox
from app.ledger.events import get_event
from app.models import Event, WebhookSource
from app.web.ingest import MAPPING_EXAMPLES
from tests.conftest import connected
from tests.docs import blocks, section

DOC = Path(ROOT) / "docs" / "webhooks.md"


def _generic_mapping(text):
    """The mapping of the `"kind": "generic"` source a shell example creates."""
    payload = re.search(r"-d '(\{\"name\": \"deployer\", \"kind\": \"generic\".*?\}\}\})'", text, re.S).group(1)
    return json.loads(payload.replace("'\"$SECRET\"'", "any-secret"))["mapping"]


def test_the_docs_generic_mapping_is_the_pages_and_the_walkthroughs():
    walkthrough = section(Path(ROOT) / "README.md", "## Ten minutes on the demo data")

    assert _generic_mapping(DOC.read_text(encoding="utf-8")) == MAPPING_EXAMPLES["generic"]
    assert _generic_mapping(walkthrough) == MAPPING_EXAMPLES["generic"]


def test_the_docs_shell_examples_create_sources_and_a_signed_delivery_becomes_an_event(app, live_server, auth,
                                                                                       tmp_path):
    steps = blocks(DOC.read_text(encoding="utf-8"), "sh")
    assert len(steps) == 2 and "SECRET=$(openssl rand -hex 24)" in steps[0]
    auth.user("admin", "admin")  # what `make run` seeds; the example's token is created for it
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGETRACKER_")}
    env.update(CHANGETRACKER_DATABASE_URL=app.config["DATABASE_URL"], CHANGETRACKER_SECRET_KEY=app.config["SECRET_KEY"],
               CHANGETRACKER_URL=live_server.url, PATH=os.path.dirname(sys.executable) + os.pathsep + env["PATH"])
    script = "set -euo pipefail\n" + "\n".join(steps)

    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [a.get("name") for a in answers[:2]] == ["ci-main", "deployer"], run.stdout
    assert isinstance(answers[2]["id"], int), "202 with the inbox item"
    with connected(app):
        assert {s.name: s.kind for s in WebhookSource.select()} == {"ci-main": "jenkins", "deployer": "generic"}
        inbox.drain("docs", inbox.Settings())
        [event] = [get_event(e.id) for e in Event.select()]
    assert (event["title"], event["type"], event["source"]) == ("Deploy payments 1.4.2 to production", "deployment",
                                                                "webhook")
    assert event["agents"] == ["linux-03"] and event["occurred_at"].isoformat().startswith("2026-11-20T12:00:00")
