"""POST /api/v1/snapshots: the contract's result, write scope, and clear 422s."""
import pytest

from app.models import Event, Snapshot
from tests.conftest import connected
from tests.fakes.jenkins import fixture

URL = "/api/v1/snapshots"


def test_baseline_then_change_through_the_api(app, client, auth):
    headers = auth.headers(role="editor", scope="write")
    body = {"collector": "jenkins_agent", "key": "ci/example", "observed_at": "2026-11-20T03:00:00Z",
            "content": {"config_xml": fixture("agent-config-ssh-envvars.xml")}}
    first = client.post(URL, json=body, headers=headers)
    assert first.status_code == 200, first.json
    assert first.json == {"changed": False, "baseline": True, "stale": False, "changes": [], "event_id": None,
                          "event_ids": [], "snapshot_id": first.json["snapshot_id"]}

    body["observed_at"] = "2026-11-21T03:00:00Z"
    body["content"]["config_xml"] = body["content"]["config_xml"].replace("<numExecutors>5</numExecutors>",
                                                                          "<numExecutors>6</numExecutors>")
    second = client.post(URL, json=body, headers=headers).json
    assert second["changed"] is True and second["changes"] == [{"path": "executors", "before": 5, "after": 6}]
    event = client.get("/api/v1/events/%d" % second["event_id"], headers=headers).json
    assert event["title"] == "example: executors 5 → 6" and event["created_by"] == "editor (token test)"

    again = client.post(URL, json=body, headers=headers).json  # a retried push
    assert again["changed"] is False and again["snapshot_id"] == second["snapshot_id"]


def test_read_scope_may_not_submit(client, auth):
    response = client.post(URL, json={"collector": "package", "key": "pypi/x", "content": {"version": "1"}},
                           headers=auth.headers(role="viewer", scope="read"))
    assert response.status_code == 403


ENTITIES = "".join('<!ENTITY %s "%s">' % (name, ("&%s;" % previous) * 10) for previous, name in zip("abcdef", "bcdefg"))
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + ENTITIES
          + ']><slave><name>n</name><description>&g;</description></slave>')
# Under the 256 KiB cap as text, past it parsed: each leaf's key repeats its parents' dotted path.
TAG = "a-tag-name-long-enough-to-repeat-in-every-key-below-it"
WIDE = ("<slave><name>n</name><nodeProperties><p>" + "<%s>" % TAG * 20 + "<x/>" * 3000 + "</%s>" % TAG * 20
        + "</p></nodeProperties></slave>")


@pytest.mark.parametrize("body, field, message", [
    ({}, "collector", "Missing data for required field."),
    ({"collector": "package", "key": "pypi/x"}, "content", "Missing data for required field."),
    ({"collector": "agents", "key": "k", "content": {}}, "collector", "Must be one of: jenkins_agent"),
    ({"collector": "docker_image", "key": "r/i:t", "content": {"digest": 5}}, "content.digest", "Not a valid string."),
    ({"collector": "jenkins_plugins", "key": "ci", "content": {"plugins": []}}, "content.plugins", "Not a valid mapping"),
    ({"collector": "jenkins_agent", "key": "ci/a", "content": {"config_xml": "<slave>"}}, "content.config_xml",
     "Not an agent config.xml"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1"}, "observed_at": "2026-01-01"},
     "observed_at", "UTC offset"),
    # Entities are never expanded (a 323-byte document was stored as 5 MB), and the parse is capped like content.
    ({"collector": "jenkins_agent", "key": "ci/a", "content": {"config_xml": LAUGHS}}, "content.config_xml",
     "DTD or entity declaration"),
    ({"collector": "jenkins_agent", "key": "ci/a", "content": {"config_xml": WIDE}}, "content.config_xml",
     "Parsed, it is"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1"},
      "observed_at": "0001-01-01T00:30:00+01:00"}, "observed_at", "Out of range: in UTC"),
    ({"collector": "package", "key": "pypi/x", "content": {"version": "1", "size": "\ud800"}}, "content",
     "Must be valid Unicode"),
    # The name rules (docs/api.md), as for every other way an agent name comes in.
    ({"collector": "jenkins_nodes", "key": "ci", "content": {"agents": ["linux-01", "a/../b"]}}, "content.agents",
     "Must not be '.' or '..'"),
    ({"collector": "jenkins_agent", "key": "ci/x", "content": {"name": "line\nbreak"}}, "content.name",
     "Must contain printable characters only"),
])
def test_invalid_bodies_are_422_with_field_messages(app, client, auth, body, field, message):
    response = client.post(URL, json=body, headers=auth.headers())
    assert response.status_code == 422
    assert response.json["code"] == 422 and message in " ".join(response.json["errors"][field])
    with connected(app):
        assert Snapshot.select().count() == 0 and Event.select().count() == 0


def test_not_json_is_400(client, auth):
    response = client.post(URL, data="collector=package", headers=dict(auth.headers(), **{"Content-Type": "text/plain"}))
    assert response.status_code == 400 and "not valid JSON" in response.json["message"]
