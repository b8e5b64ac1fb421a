"""A tag move seen by the registry webhook and by the registry poller is one event, whichever comes first; a push
names the digest the tag had before; a tag delete names the digest it pointed at."""
import json
from datetime import datetime, timedelta, timezone

from app.accounts.audit import Actor
from app.ingest import inbox
from app.ledger import events
from app.models import Event, InboxItem
from app.polling import snapshots
from tests.conftest import connected
from tests.webhook_support import REGISTRY_TYPE, deliver, make_source, tagged_push

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
KEY = "hub.internal/library/demo:1.0"
SETTINGS = inbox.Settings(batch_size=10)


def at(minutes):
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def push(client, digest, minutes, tag="1.0"):
    body = tagged_push(tag, digest=digest, repository="library/demo", timestamp=at(minutes))
    response = deliver(client, "registry", "hub", body, REGISTRY_TYPE, how="bearer")
    assert response.status_code == 202, response.json
    return response.json["id"]


def poll(digest, minutes):
    return snapshots.submit("docker_image", KEY, T0 + timedelta(minutes=minutes), {"image": KEY, "digest": digest},
                            actor=Actor("poller"))


def drain(app):
    with connected(app):
        return inbox.drain("w1", SETTINGS)


def image_events(app):
    with connected(app):
        return [events.get_event(e.id) for e in Event.select().where(Event.type == "docker_image").order_by(Event.id)]


def test_webhook_first_then_the_poller_sees_the_same_move(app, client):
    make_source(app, "hub", "registry")
    with connected(app):
        assert poll(A, 0)["baseline"]
    push(client, B, 5)
    assert drain(app) == {"done": 1}
    [event] = image_events(app)
    assert event["changes"] == [{"path": "library/demo:1.0", "before": A, "after": B}]
    assert event["tools"] == ["library/demo:1.0"]
    with connected(app):
        result = poll(B, 10)
    assert result["event_ids"] == [event["id"]]  # the poller's snapshot points at the webhook's event
    assert len(image_events(app)) == 1


def test_poller_first_then_the_late_webhook_is_the_same_event(app, client):
    make_source(app, "hub", "registry")
    with connected(app):
        poll(A, 0)
        result = poll(B, 10)
    [event] = image_events(app)
    assert event["id"] == result["event_id"] and event["source"] == "poller"
    item_id = push(client, B, 5)  # pushed at 5, delivered after the poll at 10 (the registry was retrying)
    assert drain(app) == {"done": 1}
    with connected(app):
        item = InboxItem.get_by_id(item_id)
    assert item.event_ids == [event["id"]] and "Already recorded" in item.last_error
    assert len(image_events(app)) == 1


def test_retries_and_the_same_move_made_again_later(app, client):
    make_source(app, "hub", "registry")
    push(client, A, 0)
    push(client, B, 5)
    push(client, B, 5)  # the registry retried: the same notification
    push(client, A, 30)  # rolled back
    drain(app)
    push(client, B, 5)  # retried again after the rollback was recorded: still the same first move
    drain(app)
    push(client, B, 24 * 60)  # the next day, the same move again: a new event
    drain(app)
    moves = [(e["changes"][0]["before"], e["changes"][0]["after"]) for e in image_events(app)]
    assert moves == [(None, A), (A, B), (B, A), (A, B)]


def test_a_tag_delete_names_the_digest_it_pointed_at_and_a_repush_changes_nothing(app, client):
    make_source(app, "hub", "registry")
    push(client, A, 0)
    push(client, A, 3)  # the same image pushed again: the tag did not move
    manifest = {"action": "delete", "timestamp": at(6), "target": {"repository": "library/demo", "digest": A}}
    tag = {"action": "delete", "timestamp": at(6), "target": {"repository": "library/demo", "tag": "1.0"}}
    for entry in (manifest, tag):
        deliver(client, "registry", "hub", json.dumps({"events": [entry]}).encode(), REGISTRY_TYPE)
    assert drain(app) == {"done": 2, "ignored": 2}
    pushed, deleted = image_events(app)
    assert deleted["title"] == "library/demo:1.0 deleted (sha256:aaaaaaaaaaaa)"
    assert deleted["changes"] == [{"path": "library/demo:1.0", "before": A, "after": None}]
    assert deleted["tools"] == pushed["tools"] == ["library/demo:1.0"]
