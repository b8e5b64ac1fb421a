"""Deliveries an attacker or a careless sender would make: never a 5xx, and nothing retried that can never work.

A body that is not JSON the service reads (NaN, Infinity, a 5,000-digit number, nesting thousands deep) is refused
at once with a 400, as any malformed body is. A body that is JSON but holds a lone surrogate ("\\ud800") is kept,
like any body the receivers accept; when a field the ledger records holds one, the worker dead-letters the item
on its first attempt, saying why, instead of retrying it on backoff.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models import Event, InboxItem
from tests import hostile
from tests.conftest import connected
from tests.ingest.test_inbox import SETTINGS, drain, notification
from tests.webhook_support import REGISTRY_TYPE, deliver, fixture_bytes, make_source


def stored(app):
    with connected(app):
        return InboxItem.select().count(), Event.select().count()


@pytest.mark.parametrize("body, message", [
    (b'{"title": "x", "n": ' + b"9" * 5000 + b"}", "Integers must fit in 64 bits"),
    (b'{"title": "x", "n": 18446744073709551616}', "Integers must fit in 64 bits"),
    (b'{"title": "x", "n": NaN}', "NaN is not JSON"),
    (b'{"title": "x", "n": -Infinity}', "-Infinity is not JSON"),
    (b'{"title": "x", "n": 1e400}', "Numbers must be finite"),
    (b'{"title": "x", "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}", "Nested more than 64 levels deep"),
    (b"[" * 100000, "Nested more than 64 levels deep"),
])
@pytest.mark.parametrize("how", ["hmac", "bearer"])
def test_a_body_that_is_not_json_we_read_is_a_400_and_stores_nothing(app, client, body, message, how):
    make_source(app, "gen", "generic")
    response = deliver(client, "generic", "gen", body, how=how)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["code"] == 400 and message in response.json["message"]
    assert stored(app) == (0, 0)


def jenkins_with(**build):
    payload = json.loads(notification(7))
    payload["build"].update(build)
    return json.dumps(payload).encode()  # ensure_ascii: a lone surrogate travels as the escape "\ud800"


@pytest.mark.parametrize("kind, mapping, body, field", [
    ("generic", {"fields": {"title": "title"}}, json.dumps({"title": "deploy \ud800"}).encode(), "title"),
    ("generic", {"fields": {"title": "t", "agents": "hosts"}},
     json.dumps({"t": "deploy", "hosts": ["linux-01", "\udfff"]}).encode(), "agents"),
    ("generic", {"fields": {"title": "t"}, "include_payload": True},
     json.dumps({"t": "deploy", "extra": {"\ud800": 1}}).encode(), "metadata"),
    ("jenkins", {"jobs": [{"pattern": "asgard", "type": "deployment", "agents_parameter": "AGENTS"}]},
     jenkins_with(parameters={"AGENTS": "linux-01,\ud800"}), "agents"),
    ("jenkins", {"jobs": [{"pattern": "asgard", "type": "deployment"}]},
     jenkins_with(full_url="http://ci.example.com/job/asgard/7/\ud800" + "x" * 300), "build_url"),
])
def test_a_lone_surrogate_in_a_recorded_field_is_dead_lettered_at_once_with_its_reason(app, client, kind, mapping,
                                                                                       body, field):
    make_source(app, "src", kind, mapping=mapping)
    response = deliver(client, kind, "src", body)
    assert response.status_code == 202
    assert drain(app) == {"dead": 1}
    with connected(app):
        item = InboxItem.get_by_id(response.json["id"])
        assert (item.state, item.attempts) == ("dead", 1)
        assert "Unicode" in item.last_error and field in item.last_error
        assert Event.select().count() == 0


@pytest.mark.parametrize("host, message", [
    ("a/../b", "Must not be '.' or '..'"), ("web//1", "contain '//'"), ("esc\x1b[0m", "printable characters only"),
])
def test_agent_names_against_the_name_rules_are_dead_lettered_with_the_rule(app, client, host, message):
    make_source(app, "gen", "generic", mapping={"fields": {"title": "t", "agents": "hosts"}})
    response = deliver(client, "generic", "gen", json.dumps({"t": "deploy", "hosts": ["web-1", host]}).encode())
    assert response.status_code == 202
    assert drain(app) == {"dead": 1}
    with connected(app):
        item = InboxItem.get_by_id(response.json["id"])
        assert item.attempts == 1 and "agents" in item.last_error and message in item.last_error
        assert Event.select().count() == 0


def test_a_lone_surrogate_outside_what_is_recorded_does_not_stop_the_event(app, client):
    make_source(app, "gen", "generic", mapping={"fields": {"title": "title"}})
    response = deliver(client, "generic", "gen", json.dumps({"title": "deploy", "note": "\ud800"}).encode())
    assert response.status_code == 202
    assert drain(app) == {"done": 1}


def test_a_batch_with_a_poisoned_item_settles_every_item_at_once(app, client):
    make_source(app, "ci", "jenkins")
    make_source(app, "hub", "registry")
    good = deliver(client, "jenkins", "ci", notification(1)).json["id"]
    envelope = json.loads(fixture_bytes("docker-registry-notification-push-envelope.json"))
    envelope["events"][0]["target"]["tag"] = "latest\ud800"
    bad = deliver(client, "registry", "hub", json.dumps(envelope).encode(), REGISTRY_TYPE).json["id"]
    assert drain(app, settings=SETTINGS) == {"done": 1, "dead": 1}
    with connected(app):
        assert InboxItem.get_by_id(good).state == "done"
        assert InboxItem.get_by_id(bad).state == "dead" and InboxItem.get_by_id(bad).attempts == 1


def leaf_paths(document, prefix=()):
    """Every place in a JSON document a value sits (object members and list items)."""
    yield prefix
    children = document.items() if isinstance(document, dict) else enumerate(document) \
        if isinstance(document, list) else ()
    for key, child in children:
        yield from leaf_paths(child, prefix + (key,))


def replaced(document, path, value):
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = replaced(document[path[0]], path[1:], value)
    return copy


SAMPLES = {
    "jenkins": ({"jobs": [{"pattern": "*", "type": "deployment", "agents_parameter": "AGENTS"}],
                 "record_failures": True, "failure_agents_parameter": "AGENTS"},
                json.loads(notification(7)), "application/json"),
    "registry": ({"repositories": ["*"]},
                 json.loads(fixture_bytes("docker-registry-notification-push-envelope.json")), REGISTRY_TYPE),
    "generic": ({"fields": {"title": "title", "agents": "hosts", "occurred_at": "at", "tags": "labels"},
                 "templates": {"description": "{what} on {hosts}"}, "include_payload": True},
                {"title": "Deploy", "hosts": ["linux-01"], "at": "2026-11-20T10:00:00Z", "labels": "a,b",
                 "what": {"n": 1}}, "application/json"),
}


@st.composite
def hostile_deliveries(draw, kind, raw_json):
    _, sample, content_type = SAMPLES[kind]
    path = draw(st.sampled_from(list(leaf_paths(sample))))
    body = hostile.substitute(replaced(sample, path, hostile.PLACEHOLDER), draw(raw_json))
    return body.encode("utf-8"), content_type


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_hostile_values_anywhere_in_a_delivery_never_get_a_5xx_nor_a_retry(app, client, kind):
    """Any value of a real payload replaced by one of tests/hostile.py's (each of its raw JSON values at a few
    places, then values drawn at random): the receiver answers 202 or a 4xx, the worker settles every accepted
    item on its first attempt (done, ignored or dead with its reason), and what it records is strict JSON."""
    make_source(app, "src", kind, mapping=SAMPLES[kind][0])

    def check(delivery):
        body, content_type = delivery
        response = deliver(client, kind, "src", body, content_type)
        assert response.status_code in (202, 400, 422), response.get_data(as_text=True)
        drain(app, settings=SETTINGS)
        with connected(app):
            unsettled = list(InboxItem.select().where(InboxItem.state.not_in(["done", "ignored", "dead"])))
            assert not unsettled, [(i.state, i.attempts, i.last_error) for i in unsettled]
            assert all(i.attempts == 1 for i in InboxItem.select())
            for event in Event.select():
                json.dumps([event.metadata, event.changes], allow_nan=False)  # served back as strict JSON

    examples = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                        suppress_health_check=list(HealthCheck))
    for raw in hostile.RAW_JSON:
        examples(given(delivery=hostile_deliveries(kind, st.just(raw)))(check))()
    settings(examples, max_examples=40)(given(delivery=hostile_deliveries(kind, hostile.raw_json))(check))()
