"""Snapshots: what a collector observed under a key; the service, not the poller, decides what changed.

``submit`` stores an observation and compares it with the previous snapshot of the same
(collector, key). Each meaningful difference (app.polling.snapshot_diff) becomes an event through the
one ingest function, ``record_event``, with source ``poller``, structural ``changes`` and a readable
title. The first snapshot of a key is a baseline: stored, no events. History keeps the last
``history`` distinct states per key: an observation that changes nothing meaningful (the same
content, or only runtime state such as an agent going offline, or a redacted secret) refreshes the
latest row instead of adding one. An observation older than the latest one of its key arrives too
late to say anything and is ignored. Agent snapshots also keep the agent's catalogue row current
(labels, executors, offline, os, last_seen_at).

Submissions of one key are serialised (SQLite's write lock, a PostgreSQL advisory lock), so two
pollers racing on the same key cannot both record the same change; a retried push of the same
observation finds nothing new.
"""
import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates, validates_schema
from peewee import fn

from app import dialect
from app.accounts import audit
from app.db import from_db_time, to_db_time, utcnow
from app.dialect import write_transaction
from app.fields import CatalogueName, Integer, JsonObject, Text, UtcDateTime, name_problem
from app.ledger import events, fingerprints
from app.models import Agent, Snapshot, Tool
from app.polling.collectors.agent_config import ParseError, parse_agent_config
from app.polling.snapshot_diff import COLLECTORS, IGNORED, MAX_CHANGES, diff, events_for

log = logging.getLogger(__name__)

DEFAULT_HISTORY = 20
CONTENT_MAX_BYTES = 256 * 1024
FUTURE_TOLERANCE = timedelta(minutes=5)


# --- what a submission may carry ----------------------------------------------------------------

class _Content(Schema):
    class Meta:
        unknown = INCLUDE


class AgentContentSchema(_Content):
    """A parsed config.xml (see app.polling.collectors.agent_config) or the raw ``config_xml`` to parse here."""

    config_xml = Text(metadata={"description": "raw config.xml; parsed by the service (formatting is ignored)"})
    name = CatalogueName(strip=False)
    labels = fields.List(Text(validate=validate.Length(min=1, max=200)))
    executors = Integer(allow_none=True, strict=True, validate=validate.Range(min=0, max=100000))
    tools = fields.Dict(keys=Text(), values=fields.Dict())
    env = fields.Dict(keys=Text(), values=Text(allow_none=True))
    temporarily_offline = fields.Boolean()
    observed = fields.Dict(metadata={"description": "runtime state (offline, offline_reason, os): not diffed"})


class NodesContentSchema(_Content):
    agents = fields.List(CatalogueName(strip=False), required=True)


class PluginsContentSchema(_Content):
    core = Text(allow_none=True)
    plugins = fields.Dict(keys=Text(), values=fields.Dict(), required=True)


class ImageContentSchema(_Content):
    digest = Text(required=True, validate=validate.Length(min=1, max=200))


class PackageContentSchema(_Content):
    version = Text(required=True, validate=validate.Length(min=1, max=200))


CONTENT_SCHEMAS = {
    "jenkins_agent": AgentContentSchema,
    "jenkins_nodes": NodesContentSchema,
    "jenkins_plugins": PluginsContentSchema,
    "docker_image": ImageContentSchema,
    "package": PackageContentSchema,
}


class SnapshotCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    collector = Text(required=True, validate=validate.OneOf(COLLECTORS, error="Must be one of: {choices}."))
    key = Text(required=True, validate=validate.Length(min=1, max=300),
               metadata={"description": "what was observed, e.g. <controller>/<agent>, <registry>/<repo>:<tag>, pypi/<name>"})
    observed_at = UtcDateTime(load_default=None, metadata={"description": "when it was observed (default: now)"})
    content = JsonObject(required=True, metadata={"description": "what was observed; shape by collector"})

    @validates("content")
    def _size(self, value, **kwargs):
        size = len(_canonical(value))
        if size > CONTENT_MAX_BYTES:
            raise ValidationError("Must be at most 256 KiB as JSON (got %d bytes)." % size)

    @validates("observed_at")
    def _not_future(self, value, **kwargs):
        if value is not None and value > datetime.now(timezone.utc) + FUTURE_TOLERANCE:
            raise ValidationError("Must not be in the future (check the poller's clock).")

    @validates_schema
    def _content_shape(self, data, **kwargs):
        schema = CONTENT_SCHEMAS.get(data.get("collector"))
        if schema is None or not isinstance(data.get("content"), dict):
            return
        try:
            schema().load(data["content"])
        except ValidationError as exc:
            raise ValidationError({"content": exc.messages}) from None


class ChangeOutSchema(Schema):
    path = Text()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class SnapshotResultSchema(Schema):
    changed = fields.Boolean(required=True, metadata={"description": "events were recorded"})
    baseline = fields.Boolean(required=True, metadata={"description": "the first snapshot of this key: stored, no events"})
    stale = fields.Boolean(required=True, metadata={"description": "older than the key's latest snapshot: ignored"})
    changes = fields.List(fields.Nested(ChangeOutSchema), required=True)
    event_id = fields.Integer(allow_none=True, required=True, metadata={"description": "the first event recorded"})
    event_ids = fields.List(fields.Integer(), required=True)
    snapshot_id = fields.Integer(allow_none=True, required=True)


# --- submission ---------------------------------------------------------------------------------

def submit(collector, key, observed_at, content, actor=audit.SYSTEM, history=DEFAULT_HISTORY,
           dedupe_window=events.DEFAULT_DEDUPE_WINDOW):
    """Store one observation and record its meaningful changes as events.

    Returns {"changed", "baseline", "stale", "changes": [{path, before, after}], "event_id",
    "event_ids", "snapshot_id"}. Raises marshmallow.ValidationError (nothing written) for bad input.
    """
    return submit_payload({"collector": collector, "key": key, "content": content, "observed_at": _iso(observed_at)},
                          actor=actor, history=history, dedupe_window=dedupe_window)


def submit_payload(payload, actor=audit.SYSTEM, history=DEFAULT_HISTORY, dedupe_window=events.DEFAULT_DEDUPE_WINDOW):
    """``submit`` for a request body ``{"collector", "key", "observed_at", "content"}`` (unknown keys refused).
    An image tag's move already recorded within ``dedupe_window`` (by the registry webhook) is linked, not
    recorded again."""
    data = SnapshotCreateSchema().load(payload)
    collector, key = data["collector"], data["key"]
    content = normalise(collector, data["content"])
    observed = to_db_time(data["observed_at"]) if data["observed_at"] else utcnow()
    digest = hashlib.sha256(_canonical(content)).hexdigest()
    now = utcnow()
    with write_transaction():
        _lock(collector, key)
        latest = (Snapshot.select().where((Snapshot.collector == collector) & (Snapshot.key == key))
                  .order_by(Snapshot.observed_at.desc(), Snapshot.id.desc()).first())
        if latest is not None and observed < latest.observed_at:
            return _result(latest.id, stale=True)
        if collector == "jenkins_agent":
            _observe_agent(content, observed)
        if latest is not None:
            changes = [] if latest.content_sha256 == digest else diff(latest.content, content, IGNORED[collector])
            if not changes:
                fresh = {"observed_at": observed, "received_at": now}
                if latest.content_sha256 != digest:
                    fresh.update(content=content, content_sha256=digest)
                Snapshot.update(**fresh).where(Snapshot.id == latest.id).execute()
                return _result(latest.id)
        else:
            changes = []
        snapshot = Snapshot.create(collector=collector, key=key, observed_at=observed, received_at=now,
                                   content=content, content_sha256=digest, event_ids=[])
        event_ids = []
        if latest is not None:
            for planned in events_for(collector, key, content, changes):
                event_ids.append(_record(planned, collector, key, snapshot, latest, actor, len(event_ids),
                                         dedupe_window))
            snapshot.event_ids = event_ids
            Snapshot.update(event_ids=event_ids).where(Snapshot.id == snapshot.id).execute()
        _trim(collector, key, history)
    return _result(snapshot.id, baseline=latest is None, changes=changes, event_ids=event_ids)


def normalise(collector, content):
    """The content as diffed and stored: a raw agent config.xml parsed, labels as a sorted set."""
    content = dict(content)
    if collector == "jenkins_agent":
        if "config_xml" in content:
            try:
                parsed = parse_agent_config(content.pop("config_xml"))
            except ParseError as exc:
                raise ValidationError({"content": {"config_xml": ["Not an agent config.xml: %s." % exc]}}) from None
            content = {**parsed, **content}
            size = len(_canonical(content))
            if size > CONTENT_MAX_BYTES:  # what is stored and diffed is the parse, not the text sent
                raise ValidationError({"content": {"config_xml": [
                    "Parsed, it is %d bytes as JSON; at most 256 KiB." % size]}})
        if isinstance(content.get("labels"), list):
            content["labels"] = sorted(set(content["labels"]))
    elif collector == "jenkins_nodes":
        content["agents"] = sorted(set(content["agents"]))
    return content


def _record(planned, collector, key, snapshot, previous, actor, index, dedupe_window):
    occurred = from_db_time(snapshot.observed_at)
    payload = {
        "title": planned.title,
        "type": planned.type,
        "severity": planned.severity,
        "source": "poller",
        "occurred_at": occurred.isoformat(),
        "description": "Observed by the %s poller at %s (key %s); the previous observation was at %s, so the "
                       "change happened in between." % (collector, _utc(occurred), key,
                                                        _utc(from_db_time(previous.observed_at))),
        "agents": [a for a in planned.agents if not name_problem(a)],
        "tools": [name for name, _ in planned.tools if not name_problem(name)],
        "changes": [c.as_dict() for c in planned.changes[:MAX_CHANGES]],
        "metadata": {"collector": collector, "key": key, "snapshot_id": snapshot.id,
                     "previous_snapshot_id": previous.id},
        # Each snapshot change is its own event: a change and its rollback within the dedupe window
        # must not fold into one by the poller fingerprint.
        "dedupe_key": "snapshot:%d:%d" % (snapshot.id, index),
    }
    move = _tag_move(planned)
    if move is not None:
        # The registry's webhook may have reported this very move already (or will): one event for both ways.
        payload["dedupe_key"] = move
        already = fingerprints.recorded([(move, occurred)], dedupe_window).get(move)
        if already is not None:
            return already
    event, _ = events.record_event(payload, actor=actor, dedupe_window=dedupe_window)
    kinds = {}
    for name, kind in planned.tools:
        kinds.setdefault(kind, []).append(name)
    for kind, names in kinds.items():
        if kind and kind != "other":
            Tool.update(kind=kind).where(Tool.name.in_(names) & (Tool.kind == "other")).execute()
    return event["id"]


def _tag_move(planned):
    """The fingerprint of an image tag's digest change (app.ledger.fingerprints), None for anything else."""
    digest = next((c for c in planned.changes if c.keys == ("digest",)), None)
    if planned.type != "docker_image" or digest is None or not planned.tools:
        return None
    return fingerprints.tag_move_key(planned.tools[0][0], digest.before, digest.after)


def _observe_agent(content, observed):
    """The agent's catalogue row follows what Jenkins reports (an observation, not an audited edit)."""
    name = content.get("name")
    if not isinstance(name, str) or name_problem(name):
        return
    state = content.get("observed") if isinstance(content.get("observed"), dict) else {}
    labels = [label for label in content.get("labels") or []
              if isinstance(label, str) and label.isprintable() and len(label) <= 200]
    values = {"labels": labels, "last_seen_at": observed}
    if isinstance(content.get("executors"), int):
        values["executors"] = content["executors"]
    if "offline" in state:
        values["offline"] = bool(state["offline"])
    if isinstance(state.get("os"), str) and state["os"].isprintable():
        values["os"] = state["os"][:100]
    url = content.get("url") if isinstance(content.get("url"), str) and content["url"].startswith(("http://", "https://")) else None
    update = {getattr(Agent, column): value for column, value in values.items()}
    if url:
        update[Agent.url] = fn.COALESCE(Agent.url, url)
    Agent.insert(name=name, url=url, **values).on_conflict(conflict_target=[Agent.name], update=update).execute()


def _lock(collector, key):
    """Serialise submissions of one key. SQLite's BEGIN IMMEDIATE already holds the only write lock."""
    dialect.serialise("snapshot:%s:%s" % (collector, key))


def _trim(collector, key, history):
    """Keep the newest ``history`` snapshots of the key."""
    keep = (Snapshot.select(Snapshot.id).where((Snapshot.collector == collector) & (Snapshot.key == key))
            .order_by(Snapshot.observed_at.desc(), Snapshot.id.desc()).limit(max(1, history)))
    (Snapshot.delete().where((Snapshot.collector == collector) & (Snapshot.key == key) & Snapshot.id.not_in(keep))
     .execute())


def _result(snapshot_id, baseline=False, stale=False, changes=(), event_ids=()):
    event_ids = list(event_ids)
    return {"changed": bool(event_ids), "baseline": baseline, "stale": stale,
            "changes": [c.as_dict() for c in changes], "event_id": event_ids[0] if event_ids else None,
            "event_ids": event_ids, "snapshot_id": snapshot_id}


# --- reads --------------------------------------------------------------------------------------

def latest(collector, keys=None):
    """{key: (observed_at, content)} of the newest snapshot of every key of ``collector``."""
    newest = (Snapshot.select(Snapshot.key, fn.MAX(Snapshot.id).alias("id"))
              .where(Snapshot.collector == collector).group_by(Snapshot.key))
    if keys is not None:
        newest = newest.where(Snapshot.key.in_(list(keys)))
    ids = [row.id for row in newest]
    found = {}
    for start in range(0, len(ids), 500):
        for row in Snapshot.select().where(Snapshot.id.in_(ids[start:start + 500])):
            found[row.key] = (from_db_time(row.observed_at), row.content)
    return found


def history_of(collector, key, limit=DEFAULT_HISTORY):
    query = (Snapshot.select().where((Snapshot.collector == collector) & (Snapshot.key == key))
             .order_by(Snapshot.observed_at.desc(), Snapshot.id.desc()).limit(limit))
    return [{"id": s.id, "observed_at": from_db_time(s.observed_at), "received_at": from_db_time(s.received_at),
             "content": s.content, "event_ids": s.event_ids} for s in query]


def _canonical(content):
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def _iso(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return value


def _utc(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
