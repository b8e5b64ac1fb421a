"""Mapping tables: what each notification becomes, against the real fixtures and their variations."""
import copy
import json
from datetime import datetime, timezone

import pytest

from app.ingest import mappings
from app.ingest.mappings import Context, Unusable, to_events
from app.ingest.sources import validate_mapping
from tests.webhook_support import fixture_bytes, tagged_push

RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
CTX = Context(source="ci", item_id=7, received_at=RECEIVED, body_sha256="ab" * 32)


def completed(**build):
    payload = json.loads(fixture_bytes("notification-plugin-completed.json"))
    payload["build"].update(build)
    return payload


def mapping(kind, **values):
    return validate_mapping(kind, values)


JENKINS = mapping("jenkins", jobs=[
    {"pattern": "infra/deploy-*", "type": "deployment", "agents_parameter": "AGENTS", "tools": ["jdk"]},
    {"pattern": "maint*", "type": "maintenance", "severity": "low", "failure_severity": "critical"},
    {"pattern": "asgard", "type": "deployment", "tags": ["asgard"]},
])


@pytest.mark.parametrize("phase, status, outcome", [
    ("QUEUED", None, "ignored"),
    ("STARTED", None, "ignored"),
    ("COMPLETED", "SUCCESS", "asgard #18 succeeded"),
    ("FINALIZED", "SUCCESS", "asgard #18 succeeded"),
    ("completed", "SUCCESS", "asgard #18 succeeded"),
    ("COMPLETED", "FAILURE", "asgard #18 failed"),
    ("COMPLETED", "UNSTABLE", "asgard #18 unstable"),
    ("FINALIZED", "ABORTED", "asgard #18 aborted"),
    ("COMPLETED", None, "asgard #18 unknown"),
])
def test_jenkins_phases_and_statuses(phase, status, outcome):
    payload = completed(phase=phase)
    if status is None:
        payload["build"].pop("status")
    else:
        payload["build"]["status"] = status
    result = to_events("jenkins", JENKINS, payload, CTX)
    if outcome == "ignored":
        assert result.events == [] and "only COMPLETED and FINALIZED" in result.reason
        return
    [event] = result.events
    assert event["title"] == outcome
    assert event["type"] == "deployment" and event["source"] == "webhook"
    assert event["severity"] == ("info" if status == "SUCCESS" else "high")
    assert event["build_url"] == "http://localhost:8080/job/asgard/18/"
    assert event["links"] == [{"url": "http://localhost:8080/job/asgard/18/", "text": "Build #18"}]
    assert event["tags"] == ["jenkins", "asgard"]
    assert event["dedupe_key"] == "jenkins:ci:job/asgard/18/"  # COMPLETED and FINALIZED make one event
    assert event["metadata"]["jenkins"]["scm"]["commit"] == "c6d86dc654b12425e706bcf951adfe5a8627a517"
    assert event["metadata"]["webhook"] == {"source": "ci", "inbox_item": 7}
    assert event["occurred_at"] == "2026-11-20T12:00:00Z"
    assert "c6d86dc654b1" in event["description"]


def test_jenkins_folder_jobs_parameters_and_build_times():
    payload = {"name": "deploy-jdk", "url": "job/infra/job/deploy-jdk/", "build": {
        "full_url": "https://ci.example.com/job/infra/job/deploy-jdk/41/", "number": 41, "phase": "FINALIZED",
        "status": "SUCCESS", "url": "job/infra/job/deploy-jdk/41/", "timestamp": 1763640000000, "duration": 90000,
        "parameters": {"AGENTS": "linux-01, linux-02 linux-03", "VERSION": "17.0.9"}}}
    [event] = to_events("jenkins", JENKINS, payload, CTX).events
    assert event["title"] == "infra/deploy-jdk #41 succeeded"
    assert event["agents"] == ["linux-01", "linux-02", "linux-03"]
    assert event["tools"] == ["jdk"]
    assert event["occurred_at"] == "2025-11-20T12:00:00Z" and event["ended_at"] == "2025-11-20T12:01:30Z"
    assert event["metadata"]["jenkins"]["parameters"]["VERSION"] == "17.0.9"


def test_jenkins_patterns_choose_the_type_and_severity():
    payload = {"name": "maintenance-reboot", "url": "job/maintenance-reboot/",
               "build": {"number": 3, "phase": "COMPLETED", "status": "FAILURE"}}
    [event] = to_events("jenkins", JENKINS, payload, CTX).events
    assert (event["type"], event["severity"], event["build_url"], event["links"]) == ("maintenance", "critical", None, [])


@pytest.mark.parametrize("status, record_failures, recorded", [
    ("SUCCESS", False, False),
    ("FAILURE", False, False),
    ("SUCCESS", True, False),
    ("FAILURE", True, True),
])
def test_other_jobs_failures_become_notes_only_when_asked(status, record_failures, recorded):
    rules = mapping("jenkins", jobs=[{"pattern": "infra/*"}], record_failures=record_failures,
                    failure_agents_parameter="NODE")
    payload = completed(status=status, parameters=[{"name": "NODE", "value": "linux-07"}])
    result = to_events("jenkins", rules, payload, CTX)
    if not recorded:
        assert result.events == [] and "matches no infrastructure-job pattern" in result.reason
        return
    [event] = result.events
    assert (event["type"], event["severity"], event["agents"]) == ("note", "medium", ["linux-07"])
    assert event["tags"] == ["jenkins", "build-failure"]
    assert event["build_url"] == "http://localhost:8080/job/asgard/18/"


@pytest.mark.parametrize("payload, message", [
    ({"build": "x"}, "'build' must be an object"),
    ({"build": {"phase": "COMPLETED"}}, "names no job"),
])
def test_unusable_jenkins_payloads(payload, message):
    with pytest.raises(Unusable, match=message):
        to_events("jenkins", JENKINS, payload, CTX)


REGISTRY = mapping("registry", repositories=["library/*", "hello-world"], tool_prefix="registry.local/",
                   agents=["docker-hosts"])


def test_registry_push_envelope_keeps_the_manifest_and_drops_the_layer():
    result = to_events("registry", REGISTRY, json.loads(tagged_push("1.0")), CTX)
    [event] = result.events
    digest = "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf"
    assert event["type"] == "docker_image"
    assert event["title"] == "library/test:1.0 pushed (sha256:fea8895f4509)"
    assert event["changes"] == [{"path": "library/test:1.0", "before": None, "after": digest}]
    assert event["tools"] == ["registry.local/library/test:1.0"] and event["agents"] == ["docker-hosts"]
    assert event["metadata"]["registry"]["digest"] == digest and event["metadata"]["registry"]["actor"] == "test-actor"
    assert event["metadata"]["registry"]["id"] == "asdf-asdf-asdf-asdf-0"
    assert event["occurred_at"] == "2006-01-02T15:04:05Z"
    assert event["dedupe_key"] == "image:registry.local/library/test:1.0:none>" + digest
    assert result.reason == "Skipped: 1 layer event(s)."


def test_a_manifest_pushed_by_digest_moves_no_tag():
    """The sample as published: a push by digest (a child of an index, say); its index's tagged push counts."""
    payload = json.loads(fixture_bytes("docker-registry-notification-push-envelope.json"))
    result = to_events("registry", REGISTRY, payload, CTX)
    assert result.events == []
    assert result.reason == "Skipped: 1 layer event(s), 1 untagged manifest push(s)."


class Seen:
    """A TagHistory stand-in: what each tool pointed at, whatever the time."""

    def __init__(self, **digests):
        self.digests = {k.replace("__", "/").replace("_", ":", 1): v for k, v in digests.items()}
        self.noted = []

    def before(self, tools, reference, moment):
        return self.digests.get(reference)

    def note(self, tools, occurred_at, digest):
        self.noted.append((sorted(tools), digest))


def test_a_push_names_the_digest_the_tag_had_before_and_an_unchanged_push_is_no_event():
    seen = Seen(library__test_1="sha256:" + "a" * 64)
    ctx = Context(source="ci", item_id=7, received_at=RECEIVED, tag_history=seen)
    [event] = to_events("registry", mapping("registry"), json.loads(tagged_push("1")), ctx).events
    assert event["changes"][0]["before"] == "sha256:" + "a" * 64
    assert "(was sha256:aaaa" in event["description"]
    assert seen.noted == [(["library/test:1"], event["changes"][0]["after"])]
    same = json.loads(tagged_push("1", digest="sha256:" + "a" * 64))
    result = to_events("registry", mapping("registry"), same, ctx)
    assert result.events == [] and "1 push(es) that left the tag where it was" in result.reason


def test_a_delete_is_one_event_per_tag_with_the_digest_it_pointed_at():
    """registry 2.x answers `skopeo delete` with a manifest delete (digest, no tag) and one delete per tag."""
    digest = "sha256:" + "b" * 64
    ctx = Context(source="ci", item_id=7, received_at=RECEIVED, tag_history=Seen(library__demo_latest=digest))
    manifest = {"action": "delete", "target": {"repository": "library/demo", "digest": digest}}
    tag = {"action": "delete", "target": {"repository": "library/demo", "tag": "latest"}}
    result = to_events("registry", mapping("registry"), {"events": [manifest, tag]}, ctx)
    [event] = result.events
    assert event["title"] == "library/demo:latest deleted (sha256:bbbbbbbbbbbb)"
    assert event["tools"] == ["library/demo:latest"]
    assert event["changes"] == [{"path": "library/demo:latest", "before": digest, "after": None}]
    assert result.reason == "Skipped: 1 untagged manifest delete(s)."


def test_registry_pull_is_ignored_and_a_tagged_push_or_delete_is_recorded():
    pull = json.loads(fixture_bytes("docker-registry-notification-pull.json"))
    result = to_events("registry", REGISTRY, pull, CTX)
    assert result.events == [] and result.reason == "Skipped: 1 pull event(s)."
    push = copy.deepcopy(pull)
    push["events"][0]["action"] = "push"
    [event] = to_events("registry", REGISTRY, push, CTX).events
    assert event["title"] == "hello-world:latest pushed (sha256:fea8895f4509)"
    assert event["occurred_at"] == "2016-03-09T22:44:26.402973Z"  # nanoseconds and an offset, in UTC
    assert event["tools"] == ["registry.local/hello-world:latest"]
    delete = copy.deepcopy(pull)
    delete["events"][0].update(action="delete")
    delete["events"][0]["target"].pop("mediaType")
    [event] = to_events("registry", REGISTRY, delete, CTX).events
    assert event["title"].startswith("hello-world:latest deleted")
    assert event["changes"][0]["before"].startswith("sha256:") and event["changes"][0]["after"] is None


@pytest.mark.parametrize("change, reason", [
    ({"repository": "team/app"}, "untracked repositories"),
    ({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}, "layer event(s)"),
    ({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}, "layer event(s)"),
    ({"repository": None}, "without a repository"),
])
def test_registry_events_left_out(change, reason):
    payload = json.loads(fixture_bytes("docker-registry-notification-pull.json"))
    payload["events"][0]["action"] = "push"
    payload["events"][0]["target"].update(change)
    result = to_events("registry", REGISTRY, payload, CTX)
    assert result.events == [] and reason in result.reason


def test_registry_oci_index_counts_as_a_manifest_and_only_chosen_actions_are_kept():
    payload = json.loads(fixture_bytes("docker-registry-notification-pull.json"))
    payload["events"][0]["action"] = "push"
    payload["events"][0]["target"]["mediaType"] = "application/vnd.oci.image.index.v1+json"
    assert len(to_events("registry", REGISTRY, payload, CTX).events) == 1
    only_deletes = mapping("registry", repositories=["*"], actions=["delete"])
    assert to_events("registry", only_deletes, payload, CTX).events == []


GENERIC = mapping("generic",
                  fields={"title": "deploy.title", "agents": "deploy.hosts", "occurred_at": "deploy.at",
                          "severity": "deploy.level", "tags": "labels", "build_url": "links.0.href",
                          "dedupe_key": "delivery"},
                  templates={"description": "{deploy.service} {deploy.version} by {deploy.user.name}"},
                  defaults={"type": "deployment", "severity": "low", "tools": ["helm"]},
                  include_payload=True)


def test_generic_paths_templates_and_defaults():
    payload = {"delivery": "d-1", "labels": "prod,api", "links": [{"href": "https://ci.example.com/b/5"}],
               "deploy": {"title": "  Deployed\napi  ", "hosts": ["web-1", "web-2"], "at": 1763640000,
                          "service": "api", "version": "1.4.2", "user": {"name": "ann"}}}
    [event] = to_events("generic", GENERIC, payload, CTX).events
    assert event["title"] == "Deployed api"
    assert event["description"] == "api 1.4.2 by ann"
    assert event["agents"] == ["web-1", "web-2"] and event["tags"] == ["prod", "api"] and event["tools"] == ["helm"]
    assert (event["type"], event["severity"]) == ("deployment", "low")
    assert event["occurred_at"] == "2025-11-20T12:00:00Z"
    assert event["build_url"] == "https://ci.example.com/b/5"
    assert event["dedupe_key"] == "generic:ci:d-1"
    assert event["metadata"]["payload"] == payload


def test_generic_without_a_key_uses_the_body_hash_and_the_receive_time():
    simple = mapping("generic", fields={"title": "t"})
    [event] = to_events("generic", simple, {"t": "x", "when": None}, CTX).events
    assert event["dedupe_key"] == "generic:ci:" + "ab" * 32
    assert event["occurred_at"] == "2026-11-20T12:00:00Z"
    assert "payload" not in event["metadata"]


@pytest.mark.parametrize("payload, message", [
    ({"deploy": {"service": "a", "version": "1", "user": {"name": "x"}}}, "No title"),
    ({"deploy": {"title": "t", "version": "1", "user": {"name": "x"}}}, "{deploy.service} is missing"),
    ({"deploy": {"title": "t", "at": "yesterday", "service": "a", "version": "1", "user": {"name": "x"}}},
     "occurred_at"),
    ({"deploy": {"title": {"a": 1}, "service": "a", "version": "1", "user": {"name": "x"}}}, "expected text"),
])
def test_generic_payloads_that_cannot_become_events(payload, message):
    with pytest.raises(Unusable, match=message.replace("{", r"\{").replace("}", r"\}")):
        to_events("generic", GENERIC, payload, CTX)


@pytest.mark.parametrize("path, expected", [
    ("a.b", 1), ("list.1", "y"), ("list.-1", "y"), ("list.5", None), ("a.c", None), ("a.b.c", None), ("list.x", None),
])
def test_resolve_dotted_paths(path, expected):
    value = mappings.resolve({"a": {"b": 1}, "list": ["x", "y"]}, path)
    assert (None if value is mappings._MISSING else value) == expected


def test_long_natural_keys_are_hashed_to_fit():
    key = mappings._key("generic", "ci", "k" * 400)
    assert len(key) == 255 and key.startswith("generic:ci:kkk")


def test_a_pushed_tag_and_a_polled_tag_are_one_tool():
    """The registry poller keys an image '<registry>/<repository>:<tag>'; its events name the same tool as the
    webhook for a push of that tag (without a tool_prefix), so the tag's history is on one row."""
    from app.polling.snapshot_diff import image_tool_name

    pull = json.loads(fixture_bytes("docker-registry-notification-pull.json"))
    pull["events"][0]["action"] = "push"
    pull["events"][0]["target"]["repository"] = "ci/builder"
    [event] = to_events("registry", mapping("registry", repositories=["ci/*"]), pull, CTX).events
    assert event["tools"] == ["ci/builder:latest"]
    assert image_tool_name("registry.local:5000/ci/builder:latest") == "ci/builder:latest"
    assert image_tool_name("registry.local:5000/team-a/base:1") != image_tool_name("registry.local:5000/team-b/base:1")
