"""Repeats of an event: the key they share, and folding a repeat into the event it repeats.

An event with a ``dedupe_key``, or from a machine source (webhook, poller) with the same type, agents, tools and
title up to numbers, hashes and timestamps, claims a slot named by that key. A slot names the event its repeats
fold into while the event was last seen within the dedupe window: the event's ``count`` goes up by one and its
``last_seen`` moves on instead of a new event being written. Slots are locked until the transaction ends, so
concurrent writers of one key take turns (SQLite's write lock already serialises writers; PostgreSQL locks the
rows, in key order, so that two batches naming the same keys wait for each other instead of deadlocking).
"""
import hashlib
import re
from collections import Counter
from datetime import timedelta

from app import dialect
from app.db import database
from app.models import DedupeSlot, Event

DEFAULT_DEDUPE_WINDOW = timedelta(hours=1)
# Machine sources repeat themselves; people mean each note they write.
FINGERPRINTED_SOURCES = ("webhook", "poller")

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_HASH = re.compile(r"\b(sha256:)?[0-9a-f]{7,64}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


def slot_key(data):
    """The key repeats of this event share: its dedupe_key, else a fingerprint for machine sources."""
    if data.get("dedupe_key"):
        return "key:" + data["dedupe_key"]
    if data.get("source") not in FINGERPRINTED_SOURCES:
        return None
    parts = [data["source"], data["type"], ",".join(sorted(set(data["agents"]))), ",".join(sorted(set(data["tools"]))),
             normalise_title(data["title"])]
    return "fp:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def normalise_title(title):
    """The title with timestamps, hashes and numbers blanked, so "build #41" and "build #42" match."""
    title = _TIMESTAMP.sub("<time>", title)
    title = _HASH.sub("<hash>", title)
    title = _NUMBER.sub("<n>", title)
    return " ".join(title.lower().split())


def plan(keys, windows, now):
    """Which of a batch's events are new and which fold, decided as if they came one after another.

    ``keys[i]`` is event i's slot key (or None), ``windows[i]`` its dedupe window. Claims and locks the slots
    first. Returns (new, folds, targets): the indexes of the new events; ``(i, target)`` per repeat; and per
    slot key what it names from now on. A target is the id of a stored event, or ``-(j + 1)`` for the new
    event j of this batch, whose id the caller learns on insert.
    """
    slots = _claim(sorted({key for key in keys if key}))
    targets, new, folds = {}, [], []  # targets: slot key -> what its repeats fold into from now on
    for index, key in enumerate(keys):
        if key is None:
            new.append(index)
        elif key in targets:
            folds.append((index, targets[key]))
        else:
            event_id, last_seen = slots[key]
            if event_id and last_seen and last_seen >= now - windows[index]:
                targets[key] = event_id
                folds.append((index, event_id))
            else:
                targets[key] = -(index + 1)
                new.append(index)
    return new, folds, targets


def settle(targets, folds, now):
    """Bump the folded events' counts and point each slot at its event; ``targets`` and ``folds`` as ``plan``
    returned them, with the new events' ids resolved. Returns {event id: repeats folded into it}."""
    repeats = Counter(target for _, target in folds)
    fold = dialect.statement(_fold)
    for event_id in sorted(repeats):  # in id order: two PostgreSQL transactions never wait on each other in turn
        database.execute_sql(fold, (repeats[event_id], _at(now), _at(now), event_id))
    update = dialect.statement(_point_slot)
    for key in sorted(targets):
        database.execute_sql(update, (targets[key], _at(now), key))
    return repeats


def _claim(keys):
    """{key: (event id or None, last_seen or None)}, each slot created if new and locked until the transaction
    ends."""
    if not keys:
        return {}
    dialect.insert_missing("dedupe_slot", ("key",), [(key,) for key in keys])
    rows = database.execute_sql(dialect.statement(_locked_slots, len(keys)), keys).fetchall()
    return {key: (event_id, DedupeSlot.last_seen.python_value(last_seen)) for key, event_id, last_seen in rows}


def _locked_slots(count):
    return dialect.locked(DedupeSlot.select(DedupeSlot.key, DedupeSlot.event, DedupeSlot.last_seen)
                          .where(DedupeSlot.key.in_(["key"] * count)).order_by(DedupeSlot.key))


def _fold():
    return (Event.update(count=Event.count + 1, last_seen=None, updated_at=None).where(Event.id == 0))


def _point_slot():
    return DedupeSlot.update(event=0, last_seen=None).where(DedupeSlot.key == "key")


_at = DedupeSlot.last_seen.db_value
