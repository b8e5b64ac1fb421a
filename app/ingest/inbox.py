"""The durable inbox: webhook bodies kept until a worker has turned them into events.

Life of an item: ``pending`` → (claimed) ``processing`` → ``done`` (events recorded), ``ignored`` (understood,
nothing to record, e.g. a layer push or a STARTED phase) or ``dead`` (unusable, or still failing after
``max_attempts``), with the reason in ``last_error``. Dead and ignored items can be replayed.

Claims are atomic and committed on their own (``attempts`` counts them, so an item that kills its worker still
ends dead): PostgreSQL picks rows with ``FOR UPDATE SKIP LOCKED``, SQLite with a conditional UPDATE inside its
single-writer transaction. A claim older than ``claim_timeout`` (its worker died) is taken again. Each batch is
then processed in one transaction that first locks the claims still ours, so a slow worker whose claim was taken
over leaves those items alone instead of doubling their events. Events carry dedupe keys derived from the
notification, and a key already in the ledger is not recorded again.
"""
import json
import logging
from dataclasses import dataclass
from datetime import timedelta, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from peewee import fn

from app import config as app_config
from app import dialect
from app.accounts import audit
from app.db import chunks, database, from_db_time, utcnow
from app.dialect import write_transaction
from app.errors import Conflict, NotFound
from app.fields import MAX_ID, Integer, Text, loads_json, without_surrogates
from app.ingest import image_tags, mappings
from app.ledger import fingerprints
from app.ledger.events import DEFAULT_DEDUPE_WINDOW, record_event, record_events, validate_event, validate_events
from app.models import INBOX_STATES, Event, InboxItem, WebhookSource

log = logging.getLogger(__name__)

REPLAYABLE = ("dead", "ignored")


@dataclass(frozen=True)
class Settings:
    batch_size: int = 100
    max_attempts: int = 5
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    claim_timeout_seconds: float = 300.0
    dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW

    @classmethod
    def from_config(cls, config):
        return cls(batch_size=config["INBOX_BATCH_SIZE"], max_attempts=config["INBOX_MAX_ATTEMPTS"],
                   retry_base_seconds=config["INBOX_RETRY_BASE_SECONDS"],
                   retry_max_seconds=config["INBOX_RETRY_MAX_SECONDS"],
                   claim_timeout_seconds=config["INBOX_CLAIM_TIMEOUT_SECONDS"],
                   dedupe_window=app_config.dedupe_window(config))


class _LostClaim(Exception):
    """Another worker took the item over (our claim expired): undo what we did with it."""


def put(source, kind, body, body_sha256, headers):
    """Commit one accepted body; returns its id. One INSERT in autocommit mode: durable when this returns.

    The statement is written out (app.dialect.insert_row) rather than built by peewee for each request:
    acceptance is the hot path of a webhook burst, and building the query cost more than running it.
    """
    now = utcnow()
    fields = InboxItem._meta.fields
    values = (source.id, source.name, kind, fields["received_at"].db_value(now), fields["headers"].db_value(headers),
              body, body_sha256, "pending", 0, fields["next_attempt_at"].db_value(now), "[]")
    return dialect.insert_row("inbox_item", _COLUMNS, values)


_COLUMNS = ("source_id", "source_name", "kind", "received_at", "headers", "body", "body_sha256", "state", "attempts",
            "next_attempt_at", "event_ids")


def claim(worker, limit, claim_timeout_seconds):
    """Atomically take up to ``limit`` due items (and stale claims) for ``worker``; returns them, oldest first."""
    now = utcnow()
    stale = now - timedelta(seconds=claim_timeout_seconds)
    due = (((InboxItem.state == "pending") & (InboxItem.next_attempt_at <= now))
           | ((InboxItem.state == "processing") & (InboxItem.claimed_at < stale)))
    picked = dialect.locked(InboxItem.select(InboxItem.id).where(due).order_by(InboxItem.id).limit(limit),
                            skip_locked=True)
    with write_transaction():
        # Picked first, then updated: PostgreSQL may run an "IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)"
        # subquery more than once within one UPDATE and so claim more than n rows.
        ids = [row for (row,) in picked.tuples()]
        if ids:
            (InboxItem.update(state="processing", claimed_by=worker, claimed_at=now, attempts=InboxItem.attempts + 1)
             .where(InboxItem.id.in_(ids)).execute())
    if not ids:
        return []
    return list(InboxItem.select().where(InboxItem.id.in_(ids)).order_by(InboxItem.id))


def process(items, worker, settings):
    """Turn claimed items into events; returns {state: count}, all in one transaction.

    The batch's events are validated together and written by ``record_events`` (the bulk form of
    ``record_event``: same validation, links and audit entries), after a check that their dedupe keys are new.
    Should that fail for an unexpected reason, the batch is redone item by item through ``record_event``, each
    in its own savepoint, so one bad item can only ever fail itself.
    """
    counts = {}
    if not items:
        return counts

    def count(state):
        counts[state] = counts.get(state, 0) + 1

    with write_transaction():
        mine = _still_claimed(items, worker)
        for item in items:
            if item.id not in mine:
                log.warning("inbox item %d was taken over by another worker; left to it", item.id)
                count("lost")
        items = [item for item in items if item.id in mine]
        source_ids = {item.source_id for item in items if item.source_id}
        sources = {s.id: s for s in WebhookSource.select().where(WebhookSource.id.in_(list(source_ids)))}
        planned, tags = [], image_tags.TagHistory()
        for item in items:
            try:
                planned.append((item, _plan(item, sources.get(item.source_id), tags)))
            except Exception as exc:
                count(_failed(item, worker, settings, exc))
        try:
            with database.atomic():
                settled = _record_batch(planned, worker, settings.dedupe_window)
        except Exception:
            log.exception("inbox batch could not be written at once; processing its %d items one by one", len(planned))
            settled = [_process_one(item, outcome, worker, settings) for item, outcome in planned]
        for state in settled:
            count(state)
    return counts


def _still_claimed(items, worker):
    """Ids of ``items`` whose claim is still ours, locked until the transaction ends (PostgreSQL; SQLite's
    write lock already keeps every other writer out)."""
    query = (InboxItem.select(InboxItem.id)
             .where(InboxItem.id.in_([i.id for i in items]) & (InboxItem.claimed_by == worker)
                    & (InboxItem.state == "processing")))
    return {row for (row,) in dialect.locked(query).tuples()}


def _plan(item, source, tags=None):
    """The notification's outcome by the source's current mapping; raises Unusable for what can never work."""
    if source is None:
        raise mappings.Unusable("Its source %r was deleted." % item.source_name)
    if source.kind != item.kind:
        raise mappings.Unusable("Its source %r is now of kind %s, not %s." % (item.source_name, source.kind,
                                                                                  item.kind))
    try:
        payload = loads_json(item.body)
    except ValueError as exc:  # accepted before the receivers refused such bodies
        raise mappings.Unusable("The stored body is not JSON: %s" % exc) from None
    if not isinstance(payload, dict):
        raise mappings.Unusable("The body is not a JSON object.")
    context = mappings.Context(source=item.source_name, item_id=item.id, body_sha256=item.body_sha256,
                               received_at=item.received_at.replace(tzinfo=timezone.utc), tag_history=tags)
    return mappings.to_events(item.kind, source.mapping, payload, context)


def _record_batch(planned, worker, dedupe_window):
    """The fast path: validate all, skip known keys, ``record_events`` per source, then settle every item."""
    loaded, errors = validate_events([event for _, outcome in planned for event in outcome.events])
    known = _recorded_keys([data for data in loaded if data is not None], dedupe_window)
    updates, rows, new = [], [], {}  # rows: (item, outcome, [key]); new: key -> index in its source's batch
    batches = {}  # source name -> [(data, None)]
    position = 0
    for item, outcome in planned:
        span = range(position, position + len(outcome.events))
        position = span.stop
        bad = {i - span.start: errors[i] for i in span if i in errors}
        if bad:
            reason = _reason(ValidationError(_per_event(bad, len(span))))
            log.warning("inbox item %d (%s %s) dead-lettered: %s", item.id, item.kind, item.source_name, reason)
            updates.append((item, "dead", [], reason))
            continue
        keys = []
        for i in span:
            key = loaded[i]["dedupe_key"]
            keys.append(key)
            if key not in known and key not in new:
                batch = batches.setdefault(item.source_name, [])
                new[key] = (item.source_name, len(batch))
                batch.append((loaded[i], None))
        rows.append((item, outcome, keys))
    ids = {}
    for source_name, batch in batches.items():
        results = record_events(batch, actor=audit.Actor("webhook:%s" % source_name), action="create")
        ids[source_name] = [result["id"] for result in results]
    first_item = {}
    for item, outcome, keys in rows:
        made, repeats = [], []
        for key in keys:
            if key in known:
                repeats.append(known[key])
            elif first_item.setdefault(key, item.id) == item.id:
                source_name, index = new[key]
                made.append(ids[source_name][index])
            else:
                repeats.append(ids[new[key][0]][new[key][1]])
        updates.append((item, *_result(outcome, made, repeats)))
    _write_states(updates)
    return [state for _, state, _, _ in updates]


def _write_states(updates):
    """Settle many items in one executemany: their claims are locked by ``_still_claimed``, so no fencing here."""
    now = utcnow()
    param = database.obj.param
    sql = ("UPDATE inbox_item SET state = {p}, event_ids = {p}, last_error = {p}, processed_at = {p}, "
           "claimed_by = NULL, claimed_at = NULL WHERE id = {p}").format(p=param)
    processed_at = InboxItem.processed_at.db_value(now)
    rows = [(state, json.dumps(ids), note, processed_at, item.id) for item, state, ids, note in updates]
    cursor = database.cursor()
    cursor.executemany(sql, rows)


def _recorded_keys(loaded, dedupe_window):
    """{dedupe_key: event id} for the keys already in the ledger, at any age (never record a notification twice);
    a tag move's fingerprint only near the same time (app.ledger.fingerprints: the move may be made again)."""
    moves = [(data["dedupe_key"], data["occurred_at"]) for data in loaded
             if fingerprints.is_fingerprint(data["dedupe_key"])]
    keys = {data["dedupe_key"] for data in loaded} - {key for key, _ in moves}
    found = fingerprints.recorded(moves, dedupe_window)
    for chunk in chunks(sorted(keys)):
        found.update(Event.select(Event.dedupe_key, fn.MIN(Event.id)).where(Event.dedupe_key.in_(chunk))
                     .group_by(Event.dedupe_key).tuples())
    return found


def _per_event(messages, total):
    return messages[0] if total == 1 else {"event %d" % (i + 1): m for i, m in messages.items()}


def _result(outcome, made, repeats):
    """(state, event ids, note) of an item from what was recorded now and what was there before."""
    notes = [outcome.reason] if outcome.reason else []
    if repeats:
        notes.append("Already recorded as event%s %s." % ("s" if len(repeats) > 1 else "", ", ".join(map(str, repeats))))
    ids = list(dict.fromkeys(made or repeats))
    return ("done" if ids else "ignored"), ids, " ".join(notes) or None


def _write_state(item, worker, state, event_ids, note):
    _finish(item, worker, state=state, event_ids=event_ids, last_error=note, processed_at=utcnow())
    return state


def _process_one(item, outcome, worker, settings):
    """The careful path: one item in its own savepoint, its events through ``record_event`` one by one."""
    try:
        with database.atomic():
            return _write_state(item, worker, *_apply(item, outcome, settings.dedupe_window))
    except _LostClaim:
        log.warning("inbox item %d was taken over by another worker; its work here is rolled back", item.id)
        return "lost"
    except Exception as exc:
        return _failed(item, worker, settings, exc)


def _failed(item, worker, settings, exc):
    """Dead at once for what can never work; otherwise retried with exponential backoff, then dead."""
    # UnicodeError: text that cannot be stored (should the schemas miss it) fails the same way on every attempt.
    if isinstance(exc, (mappings.Unusable, ValidationError, UnicodeError)):
        reason = _reason(exc)
        log.warning("inbox item %d (%s %s) dead-lettered: %s", item.id, item.kind, item.source_name, reason)
        return _settle(item, worker, "dead", reason)
    log.error("inbox item %d (%s %s) failed on attempt %d", item.id, item.kind, item.source_name, item.attempts,
              exc_info=exc)
    reason = "%s: %s" % (type(exc).__name__, exc)
    if item.attempts >= settings.max_attempts:
        return _settle(item, worker, "dead", "Gave up after %d attempts. Last error: %s" % (item.attempts, reason))
    delay = min(settings.retry_base_seconds * 2 ** (item.attempts - 1), settings.retry_max_seconds)
    return _settle(item, worker, "pending", "Attempt %d failed (retry in %ds): %s" % (item.attempts, delay, reason),
                   next_attempt_at=utcnow() + timedelta(seconds=delay))


def _apply(item, outcome, dedupe_window):
    """(state, event ids, note) for one item, recording its events one by one."""
    actor = audit.Actor("webhook:%s" % item.source_name)
    made, repeats = [], []
    for index, event in enumerate(outcome.events):
        try:
            data = validate_event(event)
            existing = _recorded_keys([data], dedupe_window).get(data["dedupe_key"])
            if existing is not None:  # recorded before, maybe outside the dedupe window: never twice
                repeats.append(existing)
                continue
            recorded, _ = record_event(event, actor=actor, dedupe_window=dedupe_window)
        except ValidationError as exc:
            raise ValidationError(_per_event({index: exc.messages}, len(outcome.events))) from None
        made.append(recorded["id"])
    return _result(outcome, made, repeats)


def _finish(item, worker, **columns):
    """Write an item's new state only while our claim holds; raises _LostClaim otherwise."""
    changed = (InboxItem.update(claimed_by=None, claimed_at=None, **columns)
               .where((InboxItem.id == item.id) & (InboxItem.claimed_by == worker) & (InboxItem.state == "processing"))
               .execute())
    if changed != 1:
        raise _LostClaim()


def _settle(item, worker, state, reason, next_attempt_at=None):
    columns = {"state": state, "last_error": without_surrogates(reason[:4000])}
    if next_attempt_at is not None:
        columns["next_attempt_at"] = next_attempt_at
    if state == "dead":
        columns["processed_at"] = utcnow()
    try:
        with database.atomic():
            _finish(item, worker, **columns)
    except _LostClaim:
        return "lost"
    return state


def _reason(exc):
    if isinstance(exc, ValidationError):
        return without_surrogates("Not a valid event: %s" % json.dumps(exc.messages, ensure_ascii=False,
                                                                         sort_keys=True))
    return without_surrogates(str(exc))  # it may quote the payload


def drain(worker, settings, max_batches=None):
    """Claim and process batches until nothing is due (or ``max_batches``); returns {state: count}."""
    totals, batches = {}, 0
    while max_batches is None or batches < max_batches:
        items = claim(worker, settings.batch_size, settings.claim_timeout_seconds)
        if not items:
            break
        for state, n in process(items, worker, settings).items():
            totals[state] = totals.get(state, 0) + n
        batches += 1
    return totals


def replay(item_id, actor=audit.SYSTEM):
    """Send a dead or ignored item through the worker again (after fixing the mapping, say)."""
    with write_transaction():
        item = get_item(item_id)
        if item.state not in REPLAYABLE:
            raise Conflict("Inbox item %d is %s; only dead or ignored items can be replayed." % (item_id, item.state),
                           {"state": ["Is %s." % item.state]})
        before = {"state": item.state, "attempts": item.attempts, "last_error": item.last_error}
        now = utcnow()
        InboxItem.update(state="pending", attempts=0, next_attempt_at=now, claimed_by=None, claimed_at=None,
                         processed_at=None, event_ids=[]).where(InboxItem.id == item_id).execute()
        audit.record(actor, "replay", "inbox_item", item_id, before=before, after={"state": "pending"})
    return get_item(item_id)


def get_item(item_id):
    item = InboxItem.get_or_none(InboxItem.id == item_id)
    if item is None:
        raise NotFound("No inbox item with id %s." % item_id)
    return item


def list_items(state=None, limit=100, before_id=None, source=None):
    """Items newest first, optionally in one state or of one source."""
    query = InboxItem.select().order_by(InboxItem.id.desc()).limit(limit)
    if state:
        query = query.where(InboxItem.state == state)
    if source:
        query = query.where(InboxItem.source_name == source)
    if before_id:
        query = query.where(InboxItem.id < before_id)
    return list(query)


def counts():
    found = dict(InboxItem.select(InboxItem.state, fn.COUNT(InboxItem.id)).group_by(InboxItem.state).tuples())
    return {state: found.get(state, 0) for state in ("pending", "processing", "done", "ignored", "dead")}


def backlog(by_state=None):
    """What waits: pending and processing counts, dead letters, the age of the oldest waiting item.
    ``by_state``: what ``counts()`` returned, when the caller has it already."""
    waiting = InboxItem.state.in_(("pending", "processing"))
    oldest = InboxItem.select(fn.MIN(InboxItem.received_at)).where(waiting).scalar()
    by_state = counts() if by_state is None else by_state
    age = None
    if oldest is not None:
        age = max(0.0, round((utcnow() - from_db_time(oldest).replace(tzinfo=None)).total_seconds(), 1))
    return {"pending": by_state["pending"], "processing": by_state["processing"], "dead": by_state["dead"],
            "oldest_pending_age_seconds": age}


def finished(done_before, dead_before):
    """Items the worker is finished with: processed ones received before ``done_before``, dead ones before
    ``dead_before`` (naive UTC); pending and processing items never."""
    return (((InboxItem.state.in_(("done", "ignored"))) & (InboxItem.received_at < done_before))
            | ((InboxItem.state == "dead") & (InboxItem.received_at < dead_before)))


def purge(done_before, dead_before):
    """Delete the ``finished(done_before, dead_before)`` items; returns the count."""
    with write_transaction():
        return InboxItem.delete().where(finished(done_before, dead_before)).execute()


def item_view(item, with_body=False):
    view = {
        "id": item.id,
        "source": item.source_name,
        "kind": item.kind,
        "state": item.state,
        "received_at": from_db_time(item.received_at),
        "attempts": item.attempts,
        "next_attempt_at": from_db_time(item.next_attempt_at),
        "last_error": item.last_error,
        "event_ids": item.event_ids,
        "processed_at": from_db_time(item.processed_at),
        "headers": item.headers,
        "body_sha256": item.body_sha256,
    }
    if with_body:
        view["body"] = item.body
    return view


class InboxQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    state = Text(validate=validate.OneOf(INBOX_STATES, error="Must be one of: {choices}."))
    source = Text(validate=validate.Length(min=1, max=100))
    limit = Integer(load_default=100, validate=validate.Range(min=1, max=500))
    before = Integer(validate=validate.Range(min=1, max=MAX_ID),
                     metadata={"description": "only items with a smaller id (the next page)"})


class InboxItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    source = fields.String()
    kind = fields.String()
    state = fields.String()
    received_at = fields.DateTime(format="iso")
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(format="iso", allow_none=True)
    last_error = fields.String(allow_none=True, metadata={"description": "why it is dead, ignored or being retried"})
    event_ids = fields.List(fields.Integer())
    processed_at = fields.DateTime(format="iso", allow_none=True)
    headers = fields.Dict()
    body_sha256 = fields.String()
    body = fields.String(metadata={"description": "single items only: the raw body as received"})
