"""The suspects of a failed build: the changes that could explain it, ranked.

Like the related events (app.correlation.related), the answer is built from the agent/tool/toolchain junction tables, whose (entity, occurred_at)
indexes turn "events on these agents between t0 and t1" into index range scans. Candidates are
ranked from light tuples; only the events that are returned are loaded in full (``with_links``:
one query per kind of link), so the number of queries never grows with the number of events.
"""
from datetime import datetime, timedelta, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from peewee import SQL, fn

from app.correlation.windows import shift as _shift
from app.db import to_db_time
from app.fields import NAME, HttpUrl, Integer, Text, UtcDateTime
from app.ledger.events import with_links
from app.ledger.schemas import EventSchema
from app.models import SEVERITIES, Agent, Event, EventAgent, EventTool, EventToolchain, Tool, Toolchain

DEFAULT_LOOKBACK = timedelta(days=7)
MAX_LOOKBACK = timedelta(days=90)
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
# Rows read per rank before ranking: far more than a page, few enough to rank in memory.
MAX_CANDIDATES = 5000

RANKS = ("same_agent", "same_tool", "fleet_wide")
_RANK_POINTS = {"same_agent": 300, "same_tool": 200, "fleet_wide": 100}
_CLOSENESS_POINTS = 25
# Within a rank: changes first, then notes (observations, not changes), then changes undone before the failure.
_DEMOTION_POINTS = (0, 30, 60)

_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)
_TIME_RANGE = validate.Range(min=_EARLIEST, max=_LATEST, error="Must be between 1970-01-01 and 9999-01-01.")


class SuspectQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    agent = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=100),
                        metadata={"description": "the failed build's agent (repeatable)"})
    before = UtcDateTime(load_default=None, validate=_TIME_RANGE,
                                  metadata={"description": "when the build failed; default now"})
    since = UtcDateTime(load_default=None, validate=_TIME_RANGE,
                                 metadata={"description": "e.g. the job's last success; default 7 days before "
                                                          "`before`, at most 90 days before it"})
    tool = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=100),
                       metadata={"description": "a tool or toolchain the build uses (repeatable)"})
    build_url = HttpUrl(load_default=None, validate=validate.Length(max=2000),
                        metadata={"description": "without agent: the agents come from events this build recorded"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))

    @validates_schema
    def _something_to_match(self, data, **kwargs):
        if not data.get("agent") and not data.get("tool") and not data.get("build_url"):
            raise ValidationError("Name the failed build's agent (agent=), its build_url= or a tool=.", "agent")


class SuspectSchema(Schema):
    event = fields.Nested(EventSchema, required=True)
    rank = fields.String(required=True, validate=validate.OneOf(RANKS))
    score = fields.Float(required=True, metadata={"description": "higher first: 300s same agent, 200s same "
                                                                 "tool/toolchain, 100s fleet-wide"})
    reasons = fields.List(fields.String(), required=True)
    seconds_before = fields.Integer(required=True, metadata={"description": "how long before `before` it happened"})
    reverted_by = fields.List(fields.Integer(), required=True,
                              metadata={"description": "ids of rollbacks of it recorded before `before`"})


class SuspectsSchema(Schema):
    agents = fields.List(fields.String(), required=True,
                         metadata={"description": "the agents searched (from agent=, or found through build_url)"})
    since = fields.DateTime(format="iso", required=True)
    before = fields.DateTime(format="iso", required=True)
    items = fields.List(fields.Nested(SuspectSchema), required=True)


def parse_suspect_query(args):
    """SuspectQuerySchema from query-string arguments (anything with ``getlist`` and ``get``)."""
    raw = {name: [v for v in args.getlist(name) if v != ""] for name in ("agent", "tool")}
    raw.update({name: args.get(name) for name in ("before", "since", "build_url", "limit")
                if args.get(name) not in (None, "")})
    return SuspectQuerySchema().load(raw)


def find_suspects(query, now=None):
    """Changes in [since, before) that could explain a build that failed at ``before``, most likely first,
    and outages or maintenance (events with ``ended_at``) that began earlier but were still going on at ``since``.

    ``query`` is a loaded SuspectQuerySchema. Without ``agent``, the agents come from events already
    recorded with ``build_url`` (a build's own recordChange events carry it); when none names an
    agent, a ValidationError on ``build_url`` asks for ``agent=``.

    Ranks, best first:

    - ``same_agent``: the event names one of the agents;
    - ``same_tool``: it names a tool or toolchain that the agents' events in the same period name,
      or that ``tool=`` names (matched against tools and toolchains alike);
    - ``fleet_wide``: it names no agent at all (an outage of the artifact proxy, a core update).

    Events on other agents that share nothing with these are left out. Within a rank, changes come
    before notes, and both before changes that a rollback recorded before ``before`` undid (their
    reasons say "reverted by #N"); then the closer to ``before`` the better, then the more severe.
    Every event type is kept: a note such as "rebooted linux-07 by hand" may well be the answer,
    so notes are only ranked lower, not hidden. ``score`` sums the rank (300/200/100), up to 25 for
    closeness to ``before``, minus 30 for a note or 60 for a reverted change, so it sorts like the list.
    """
    since, before = _period(query, now)
    build_urls = _url_variants(query["build_url"]) if query.get("build_url") else []
    agents = _unique(query.get("agent") or [])
    if build_urls and not agents:
        agents = _agents_of_build(build_urls)
        if not agents:
            raise ValidationError({"build_url": [
                "The build's agent is unknown: no event recorded with this build_url names an agent. "
                "Pass agent=<name> (the agent the build ran on)."]})
    lo, hi = to_db_time(since), to_db_time(before)
    candidates = _gather(agents, _unique(query.get("tool") or []), lo, hi)
    rollbacks = _rollbacks_between(lo, hi)
    chosen = _best(candidates, rollbacks, lo, hi, query.get("limit", DEFAULT_LIMIT))

    events = {e["id"]: e for e in with_links(list(Event.select().where(Event.id.in_(chosen))))} if chosen else {}
    targets = sorted({e["reverts"] for e in events.values() if e["reverts"] is not None})
    titles = dict(Event.select(Event.id, Event.title).where(Event.id.in_(targets)).tuples()) if targets else {}
    items = []
    for event_id in chosen:
        entry, event = candidates[event_id], events[event_id]
        reasons = ["same agent %s" % name for name in sorted(entry["on"])]
        if entry["rank"] == "fleet_wide":
            reasons.append("fleet-wide: names no agent")
        reasons.extend(entry["links"])
        if event["occurred_at"] < since:
            reasons.append("began before %s and %s" % (
                since.isoformat(), "was still going on at the failure" if event["ended_at"] >= before
                else "lasted until %s" % event["ended_at"].isoformat()))
        if event["build_url"] in build_urls:
            reasons.append("recorded by this build")
        if event["reverts"] is not None:
            target = titles.get(event["reverts"])
            reasons.append('rolls back #%d "%s"' % (event["reverts"], target) if target is not None
                           else "rolls back #%d" % event["reverts"])
        reverted_by = rollbacks.get(event_id, [])
        reasons.extend('reverted by #%d "%s" before the failure' % pair for pair in reverted_by)
        items.append({"event": event, "rank": entry["rank"], "score": entry["score"], "reasons": reasons,
                      "seconds_before": entry["seconds_before"], "reverted_by": [i for i, _ in reverted_by]})
    return {"agents": agents, "since": since, "before": before, "items": items}


def _period(query, now):
    """(since, before) from the query, with their defaults; ValidationError when they make no sense."""
    before = query.get("before") or now or datetime.now(timezone.utc)
    since = query.get("since") or max(before - DEFAULT_LOOKBACK, _EARLIEST)
    if since >= before:
        raise ValidationError({"since": ["Must be before 'before' (%s)." % before.isoformat()]})
    if before - since > MAX_LOOKBACK:
        raise ValidationError({"since": ["Must be at most 90 days before 'before'; narrow the search."]})
    return since, before


def _gather(agents, asked, lo, hi):
    """{event id: candidate} for every event in [lo, hi) of each rank. A candidate holds its light
    ``row`` (id, occurred_at, type, severity, ended_at), ``rank``, the agents it is ``on`` and its tool/toolchain
    ``links`` reasons. An event lands in the best rank it qualifies for."""
    candidates = {}

    def add(row, rank):
        return candidates.setdefault(row[0], {"row": row, "rank": rank, "on": set(), "links": []})

    agent_ids = dict(Agent.select(Agent.id, Agent.name).where(Agent.name.in_(agents)).tuples()) if agents else {}
    for row, agent_id in _candidates(EventAgent, EventAgent.agent, list(agent_ids), lo, hi):
        add(row, "same_agent")["on"].add(agent_ids[agent_id])
    for junction, catalogue, noun in ((EventTool, Tool, "tool"), (EventToolchain, Toolchain, "toolchain")):
        column = getattr(junction, noun)
        relevant = _relevant(junction, column, catalogue, list(agent_ids), asked, lo, hi)
        for row, entity_id in _candidates(junction, column, list(relevant), lo, hi):
            entry = add(row, "same_tool")
            name, via = relevant[entity_id]
            if not via:
                entry["links"].append("%s %s named in the query" % (noun, name))
            elif entry["rank"] == "same_tool":  # on the agent itself, "same agent" says it all
                entry["links"].append("same %s %s as recent changes on %s" % (noun, name, ", ".join(sorted(via))))
    for row in _fleet_wide(lo, hi):
        add(row, "fleet_wide")
    return candidates


def _rollbacks_between(lo, hi):
    """{reverted event id: [(rollback id, rollback title)]} for rollbacks recorded in [lo, hi), oldest first."""
    rollbacks = {}
    for rollback_id, target, title in (Event.select(Event.id, Event.reverts, Event.title)
                                       .where(Event.reverts.is_null(False), Event.occurred_at >= lo,
                                              Event.occurred_at < hi)
                                       .order_by(Event.occurred_at, Event.id).tuples()):
        rollbacks.setdefault(target, []).append((rollback_id, title))
    return rollbacks


def _best(candidates, rollbacks, lo, hi, limit):
    """The ids of the ``limit`` best candidates in order; sets each candidate's score and seconds_before."""
    span = (hi - lo).total_seconds()
    ranked = []
    for event_id, entry in candidates.items():
        _, occurred_at, kind, severity, _ = entry["row"]
        demotion = 2 if event_id in rollbacks else 1 if kind == "note" else 0
        age = hi - occurred_at
        # An interval that began before the period counts as close as the period's start, no further.
        closeness = 1 - min(age.total_seconds() / span, 1)
        score = _RANK_POINTS[entry["rank"]] + _CLOSENESS_POINTS * closeness - _DEMOTION_POINTS[demotion]
        entry.update(score=round(score, 2), seconds_before=int(age.total_seconds()))
        severity_rank = -SEVERITIES.index(severity) if severity in SEVERITIES else 0
        ranked.append(((RANKS.index(entry["rank"]), demotion, min(age, hi - lo), severity_rank, -event_id), event_id))
    ranked.sort()
    return [event_id for _, event_id in ranked[:limit]]


def _candidates(junction, column, entity_ids, lo, hi):
    """((id, occurred_at, type, severity, ended_at), entity id) for events linked to ``entity_ids`` in [lo, hi),
    and for intervals that began before ``lo`` and were still going on at it: range scans on the junction's
    (entity, occurred_at) index, newest first."""
    if not entity_ids:
        return []
    rows = []
    for start, end, overlapping in _periods(lo, hi):
        query = (junction.select(Event.id, Event.occurred_at, Event.type, Event.severity, Event.ended_at, column)
                 .join(Event, on=(junction.event == Event.id))
                 .where(column.in_(entity_ids), junction.occurred_at >= start, junction.occurred_at < end)
                 .order_by(junction.occurred_at.desc())
                 .limit(MAX_CANDIDATES))
        if overlapping:
            query = query.where(Event.ended_at > lo)
        rows.extend((row[:5], row[5]) for row in query.tuples())
    return rows


def _periods(lo, hi):
    """(start, end, overlapping): the period itself, then the lookback in which an outage or maintenance
    that began earlier may have started and still be going on at ``lo`` (its ended_at after ``lo``)."""
    return (lo, hi, False), (_shift(lo, -MAX_LOOKBACK), lo, True)


def _relevant(junction, column, catalogue, agent_ids, asked, lo, hi):
    """{entity id: (name, agent names whose events in [lo, hi) name it)} for tools or toolchains: those
    linked to the agents' recent events, plus those ``asked`` for by name (with no agent names)."""
    relevant = {}
    if agent_ids:
        query = (junction.select(column, catalogue.name, Agent.name)
                 .join(EventAgent, on=(EventAgent.event == junction.event))
                 .join(Agent, on=(Agent.id == EventAgent.agent))
                 .switch(junction)
                 .join(catalogue, on=(catalogue.id == column))
                 .where(EventAgent.agent.in_(agent_ids), EventAgent.occurred_at >= lo, EventAgent.occurred_at < hi)
                 .distinct()
                 .tuples())
        for entity_id, name, agent in query:
            relevant.setdefault(entity_id, (name, set()))[1].add(agent)
    if asked:
        for entity_id, name in catalogue.select(catalogue.id, catalogue.name).where(catalogue.name.in_(asked)).tuples():
            relevant.setdefault(entity_id, (name, set()))
    return relevant


def _fleet_wide(lo, hi):
    """(id, occurred_at, type, severity, ended_at) of events in [lo, hi) that name no agent, and of such
    intervals going on at ``lo``, newest first."""
    no_agent = ~fn.EXISTS(EventAgent.select(SQL("1")).where(EventAgent.event == Event.id))
    rows = []
    for start, end, overlapping in _periods(lo, hi):
        query = (Event.select(Event.id, Event.occurred_at, Event.type, Event.severity, Event.ended_at)
                 .where(Event.occurred_at >= start, Event.occurred_at < end, no_agent)
                 .order_by(Event.occurred_at.desc())
                 .limit(MAX_CANDIDATES))
        if overlapping:
            query = query.where(Event.ended_at > lo)
        rows.extend(query.tuples())
    return rows


def _agents_of_build(build_urls):
    """Names of the agents that events recorded with one of ``build_urls`` name."""
    query = (Agent.select(Agent.name).distinct()
             .join(EventAgent, on=(EventAgent.agent == Agent.id))
             .join(Event, on=(Event.id == EventAgent.event))
             .where(Event.build_url.in_(build_urls))
             .order_by(Agent.name)
             .tuples())
    return [name for (name,) in query]


def _url_variants(url):
    """A Jenkins build URL with and without its trailing slash: BUILD_URL ends in one, people drop it."""
    bare = url.rstrip("/")
    return [bare, bare + "/"]


def _unique(names):
    return list(dict.fromkeys(name.strip() for name in names if name.strip()))
