"""The same change seen by two ways in is one event: a tag move reported by a registry's webhook and observed by
the registry poller, whichever arrives first.

Both ways name the change by one fingerprint, ``tag_move_key(tool, before, after)``, and record it as the
event's ``dedupe_key``. ``recorded`` finds the events that already carry a fingerprint *near in time*: a
webhook retried an hour later (its push time is unchanged) or a poll that saw the move a few minutes after the
push finds the first event, while the same move made again later (A → B, B → A, then A → B the next day) is a
new event. "Near" is the dedupe window (``CHANGETRACKER_DEDUPE_WINDOW_MINUTES``): poll registries more often
than that for the two ways to meet.
"""
import hashlib

from app.db import chunks, from_db_time
from app.models import Event

PREFIX = "image:"
MAX_KEY = 255


def tag_move_key(tool, before, after):
    """The fingerprint of ``tool`` (``repository:tag``) moving from digest ``before`` to ``after`` (None: the tag
    did not exist / was deleted)."""
    key = "%s%s:%s>%s" % (PREFIX, tool, before or "none", after or "none")
    if len(key) <= MAX_KEY:
        return key
    return PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_fingerprint(key):
    return isinstance(key, str) and key.startswith(PREFIX)


def recorded(pairs, window):
    """{key: event id} for the ``(fingerprint, occurred_at)`` pairs an event already stands for: one with that
    dedupe_key whose occurred_at is within ``window`` of the pair's (aware datetimes)."""
    wanted = {}
    for key, occurred_at in pairs:
        wanted.setdefault(key, []).append(occurred_at)
    found = {}
    for chunk in chunks(sorted(wanted)):
        rows = (Event.select(Event.id, Event.dedupe_key, Event.occurred_at)
                .where(Event.dedupe_key.in_(chunk)).order_by(Event.id).tuples())
        for event_id, key, occurred in rows:
            occurred = from_db_time(occurred)
            if key not in found and any(abs(occurred - moment) <= window for moment in wanted[key]):
                found[key] = event_id
    return found
