"""The suspects of a failed build: the changes that could explain it, scored on their evidence.

Candidates come from the agent/tool/toolchain junction tables, whose (entity, occurred_at) indexes turn "events on
these agents between t0 and t1" into index range scans; each is scored from a light tuple by the rules of
app.correlation.evidence, and only the events that are returned are loaded in full (``with_links``: one query per
kind of link), so the number of queries never grows with the number of events.
"""
import heapq
from datetime import datetime, timedelta, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from peewee import SQL, fn

from app.correlation import evidence
from app.correlation.windows import shift as _shift
from app.db import chunks, database, to_db_time
from app.fields import NAME, HttpUrl, Integer, Text, UtcDateTime
from app.ledger.events import with_links
from app.ledger.schemas import EventSchema
from app.models import (
    INTERVALS,
    SEVERITIES,
    Agent,
    Event,
    EventAgent,
    EventTool,
    EventToolchain,
    Tool,
    Toolchain,
    ToolchainTool,
)

DEFAULT_LOOKBACK = timedelta(days=7)
MAX_LOOKBACK = timedelta(days=90)
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
# Rows read per source of candidates before scoring: far more than a page, few enough to score in memory.
MAX_CANDIDATES = 5000

RANKS = ("same_agent", "same_tool", "fleet_wide")
ASKED = "named in the query"

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
    last_success = UtcDateTime(load_default=None, validate=_TIME_RANGE,
                               metadata={"description": "when the job's last successful build started: what "
                                                        "began before it was built successfully and weighs less"})
    tool = fields.List(Text(validate=NAME), load_default=list, validate=validate.Length(max=100),
                       metadata={"description": "a tool or toolchain the build uses (repeatable)"})
    build_url = HttpUrl(load_default=None, validate=validate.Length(max=2000),
                        metadata={"description": "without agent: the agents come from events this build recorded"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))

    @validates_schema
    def _something_to_match(self, data, **kwargs):
        if not data.get("agent") and not data.get("tool") and not data.get("build_url"):
            raise ValidationError("Name the failed build's agent (agent=), its build_url= or a tool=.", "agent")


class EvidenceSchema(Schema):
    rule = fields.String(required=True, metadata={"description": "the rule of app/correlation/evidence.py: scope, "
                                                                 "kind, severity, recency, ongoing, unplanned, "
                                                                 "reverted, built_since, this_build, rolls_back"})
    reason = fields.String(required=True, metadata={"description": "the same text as in `reasons`"})
    label = fields.String(required=True, metadata={"description": "a few plain words, '' when nothing to say"})
    weight = fields.Float(required=True, metadata={"description": "the score is multiplied by it: above 1 more "
                                                                  "likely, below 1 less likely, 1 explains only"})


class SuspectSchema(Schema):
    event = fields.Nested(EventSchema, required=True)
    rank = fields.String(required=True, validate=validate.OneOf(RANKS),
                         metadata={"description": "how it reaches the build: same_agent, same_tool (a tool or "
                                                  "toolchain the build uses), fleet_wide (names no agent)"})
    score = fields.Float(required=True, metadata={"description": "100 × the product of the evidence's weights; "
                                                                 "higher first"})
    reasons = fields.List(fields.String(), required=True,
                          metadata={"description": "why it is a suspect; reasons[i] is evidence[i].reason"})
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True,
                           metadata={"description": "the reasons with their weights, in the same order"})
    summary = fields.String(required=True, metadata={
        "description": "the evidence in plain words: 'same agent, tool update, 3h before, unplanned'"})
    seconds_before = fields.Integer(required=True, metadata={"description": "how long before `before` it happened"})
    reverted_by = fields.List(fields.Integer(), required=True,
                              metadata={"description": "ids of rollbacks of it recorded before `before`"})


class SuspectsSchema(Schema):
    agents = fields.List(fields.String(), required=True,
                         metadata={"description": "the agents searched (from agent=, or found through build_url)"})
    since = fields.DateTime(format="iso", required=True)
    before = fields.DateTime(format="iso", required=True)
    last_success = fields.DateTime(format="iso", allow_none=True, required=True)
    items = fields.List(fields.Nested(SuspectSchema), required=True)


def parse_suspect_query(args):
    """SuspectQuerySchema from query-string arguments (anything with ``getlist`` and ``get``)."""
    raw = {name: [v for v in args.getlist(name) if v != ""] for name in ("agent", "tool")}
    raw.update({name: args.get(name) for name in ("before", "since", "last_success", "build_url", "limit")
                if args.get(name) not in (None, "")})
    return SuspectQuerySchema().load(raw)


def find_suspects(query, now=None):
    """Changes in [since, before) that could explain a build that failed at ``before``, most likely first, and
    intervals (outages, maintenance, changes in progress) that began earlier but were still going on at ``since``.

    ``query`` is a loaded SuspectQuerySchema. Without ``agent``, the agents come from events already
    recorded with ``build_url`` (a build's own recordChange events carry it); when none names an
    agent, a ValidationError on ``build_url`` asks for ``agent=``.

    The candidates: events naming one of the agents; events naming a tool or toolchain the build uses (the ones
    ``tool=`` names and the ones the agents' events in the period name), a toolchain containing such a tool or a tool
    of such a toolchain; and events naming no agent at all. Events on other agents that share nothing with these are
    left out. Each is scored on its evidence (app.correlation.evidence), best first; ``rank`` says how it reaches
    the build (same_agent, same_tool, fleet_wide).
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
    last_success = to_db_time(query.get("last_success"))
    candidates, fleet, used = _gather(agents, _unique(query.get("tool") or []), lo, hi)
    rollbacks = _rollbacks_between(lo, hi)
    chosen = _best(candidates, fleet, used, rollbacks, hi, last_success, query.get("limit", DEFAULT_LIMIT))

    events = {e["id"]: e for e in with_links(list(Event.select().where(Event.id.in_(chosen))))} if chosen else {}
    named = sorted({e["reverts"] for e in events.values() if e["reverts"] is not None}
                   | {i for event_id in chosen for i in rollbacks.get(event_id, ())})
    titles = dict(Event.select(Event.id, Event.title).where(Event.id.in_(named)).tuples()) if named else {}
    items = []
    for event_id in chosen:
        entry, event = candidates[event_id], events[event_id]
        target = titles.get(event["reverts"])
        found = evidence.assess({
            "scope": entry["scope"], "relations": entry["relations"], "type": event["type"],
            "severity": event["severity"], "occurred_at": entry["occurred_at"], "ended_at": entry["ended_at"],
            "unplanned": event["unplanned"], "before": hi, "since": lo, "last_success": last_success,
            "reverted_by": [(i, titles[i]) for i in rollbacks.get(event_id, ())],
            "this_build": event["build_url"] in build_urls,
            "rolls_back": None if event["reverts"] is None else 'rolls back #%d "%s"' % (event["reverts"], target)
            if target is not None else "rolls back #%d" % event["reverts"]})
        items.append({"event": event, "rank": evidence.RANK_OF_SCOPE[entry["scope"]], "score": evidence.score(found),
                      "reasons": [piece["reason"] for piece in found], "evidence": found,
                      "summary": evidence.summary(found), "seconds_before": entry["seconds_before"],
                      "reverted_by": rollbacks.get(event_id, [])})
    return {"agents": agents, "since": since, "before": before, "last_success": query.get("last_success"),
            "items": items}


def query_for_build(event):
    """The suspects query of the build an event was recorded by (its ``build_url``), failing when the event ended
    (or happened): what the event's page links to, so a failed build's events lead to its suspects. None for an
    event no build recorded."""
    if not event.get("build_url"):
        return None
    failed_at = event["ended_at"] or event["occurred_at"]
    query = {"build_url": event["build_url"], "before": failed_at.astimezone(timezone.utc).isoformat().replace(
        "+00:00", "Z")}
    if event["agents"]:
        query["agent"] = list(event["agents"])
    return query


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
    """{event id: candidate} for the events in [lo, hi) and the intervals going on at ``lo``. A candidate holds its
    light ``row`` (id, occurred_at, type, severity, ended_at, unplanned, as the driver returns them), its ``scope``
    (the closest of evidence.SCOPE it qualifies for) and its ``relations`` (the reasons for it, first one first).

    - events naming the agents: range scans of the agents' links;
    - events naming a tool or toolchain ``asked`` for, on any agent: range scans of those links;
    - events naming no agent: one scan of the period, each with its tools and toolchains, which decide between
      "a tool it uses" (asked for, or named by the agents' own events), "a toolchain it uses" (by membership) and
      fleet-wide. Events on other agents that share nothing asked for are left out: they did not touch this
      build's machine.
    """
    candidates = {}
    agent_ids = dict(Agent.select(Agent.id, Agent.name).where(Agent.name.in_(agents)).tuples()) if agents else {}
    ongoing = _ongoing_at(lo)
    for row in _linked(EventAgent, EventAgent.agent, list(agent_ids), lo, hi, ongoing):
        entry = candidates.setdefault(row[0], {"row": row, "scope": "same_agent", "relations": []})
        entry["relations"].append("same agent %s" % agent_ids[row[-1]])
    used = _used(list(agent_ids), asked, lo, hi)
    for noun, junction, column in (("tool", EventTool, EventTool.tool),
                                   ("toolchain", EventToolchain, EventToolchain.toolchain)):
        ids = [entity_id for (kind, entity_id), (membership, why, _) in used.items()
               if kind == noun and not membership and why == ASKED]
        for row in _linked(junction, column, ids, lo, hi, ongoing, with_agents=True):
            if row[0] not in candidates or candidates[row[0]]["scope"] != "same_agent":
                entry = candidates.setdefault(row[0], {"row": row, "scope": None, "relations": set()})
                entry["names_agent"] = bool(row[6])
                entry["relations"].add(((noun, row[-1]),))
    # Fleet-wide until _best finds (for the few that could make the list) that they name a tool in use.
    fleet = [row for row in _fleet_wide(lo, hi, ongoing) if row[0] not in candidates]
    for entry in candidates.values():
        if entry["scope"] == "same_agent":
            entry["relations"].sort()
        elif entry["scope"] is None:
            _relate(entry, used, agent_ids)
    return candidates, fleet, (used, agent_ids)


def _relate(entry, used, agent_ids):
    """Set the scope and relations of a candidate from the used tools and toolchains it names (its ``relations``,
    a set of (noun, id) keys of ``used``); a change naming no agent keeps its fleet scope when that is closer."""
    relations = sorted(used[key] for (key,) in entry["relations"])  # direct relations before membership
    membership, why, _ = relations[0]
    scope = "other_agents" if entry["names_agent"] and agent_ids else "%s_%s" % (
        "used" if why == ASKED else "agent", "toolchain" if membership else "tool")
    reasons = [reason for _, _, reason in relations]
    if scope == "other_agents":
        reasons.insert(0, "names other agents only, not %s" % ", ".join(sorted(agent_ids.values())))
    if entry.get("fleet") and evidence.SCOPE[entry["scope"]] > evidence.SCOPE[scope]:
        entry["relations"] = entry["relations_before"] + reasons
        return
    entry["scope"], entry["relations"] = scope, reasons


def _used(agent_ids, asked, lo, hi):
    """{(noun, entity id): (membership, why, reason)}: the tools and toolchains the build uses (``why`` ASKED: named
    in the query; else named by the agents' events in [lo, hi)), then the toolchains containing such a tool and
    the tools of such a toolchain (``membership`` True)."""
    used = {}
    for noun, junction, column, catalogue in (("tool", EventTool, EventTool.tool, Tool),
                                              ("toolchain", EventToolchain, EventToolchain.toolchain, Toolchain)):
        seen_on = {}
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
                seen_on.setdefault((entity_id, name), set()).add(agent)
        for (entity_id, name), on in seen_on.items():
            why = "used on %s" % ", ".join(sorted(on))
            used[(noun, entity_id)] = (False, why, "same %s %s as recent changes on %s" % (noun, name, why[8:]))
        if asked:
            for entity_id, name in catalogue.select(catalogue.id, catalogue.name).where(catalogue.name.in_(asked)).tuples():
                used[(noun, entity_id)] = (False, ASKED, "%s %s %s" % (noun, name, ASKED))
    direct = dict(used)
    tools = [entity_id for noun, entity_id in direct if noun == "tool"]
    chains = [entity_id for noun, entity_id in direct if noun == "toolchain"]
    if tools or chains:
        query = (ToolchainTool.select(ToolchainTool.toolchain, Toolchain.name, ToolchainTool.tool, Tool.name)
                 .join(Toolchain, on=(Toolchain.id == ToolchainTool.toolchain))
                 .switch(ToolchainTool).join(Tool, on=(Tool.id == ToolchainTool.tool))
                 .where(ToolchainTool.tool.in_(tools) | ToolchainTool.toolchain.in_(chains))
                 .order_by(Toolchain.name, Tool.name).tuples())
        for chain_id, chain, tool_id, tool in query:
            if ("tool", tool_id) in direct:
                why = direct[("tool", tool_id)][1]
                used.setdefault(("toolchain", chain_id), (True, why, "toolchain %s contains tool %s, %s"
                                                          % (chain, tool, why)))
            if ("toolchain", chain_id) in direct:
                why = direct[("toolchain", chain_id)][1]
                used.setdefault(("tool", tool_id), (True, why, "tool %s is part of toolchain %s, %s"
                                                    % (tool, chain, why)))
    return used


def _rollbacks_between(lo, hi):
    """{reverted event id: [rollback id]} for rollbacks recorded in [lo, hi), oldest first. Written as the partial
    index event_rollbacks is (migration 0006), and unordered in SQL, so both databases read that index alone."""
    query = (Event.select(Event.occurred_at, Event.id, Event.reverts)
             .where(SQL("(reverts_id IS NOT NULL)"), Event.occurred_at >= lo, Event.occurred_at < hi))
    rollbacks = {}
    for _, rollback_id, target in sorted(database.execute(query).fetchall()):
        rollbacks.setdefault(target, []).append(rollback_id)
    return rollbacks


def _best(candidates, fleet, context, rollbacks, hi, last_success, limit):
    """The ids of the ``limit`` best-scored candidates, best first; ties go to the closer to the failure, then the
    more severe, then the newer. Sets the chosen ones' times (naive datetimes) and ``seconds_before``.

    The ``fleet`` rows (changes naming no agent, newest first) are hundreds in a week, mostly routine controller
    updates, so they are scored lazily: grouped by what their weight depends on besides time (type, severity,
    unplanned), each group's newest first, the best bound of all groups next, until no bound reaches the list's
    last score. A bound assumes the closest scope when a tool is in use, since a change naming no agent may name
    one: the tools of the rows taken are read, and those naming one are scored again. Scores only shrink with age
    and only grow with scope, so the list is exactly the one that scoring every row gives.
    """
    used, agent_ids = context
    score_of, ranked, top = evidence.scorer(hi, last_success), {}, []

    def rank(event_id, entry):
        _, occurred_at, kind, severity, ended_at, unplanned = entry["row"][:6]
        occurred_at, ended_at = _moment(occurred_at), _moment(ended_at)
        score = score_of(entry["scope"], kind, severity, occurred_at, ended_at, unplanned,
                         len(rollbacks[event_id]) if event_id in rollbacks else 0)
        ranked[event_id] = (-score, hi - occurred_at, -_SEVERITY_ORDER.get(severity, 0), -event_id, occurred_at,
                            ended_at)
        heapq.heappush(top, score)
        if len(top) > limit:
            heapq.heappop(top)

    for event_id, entry in candidates.items():
        rank(event_id, entry)
    taken, groups = [], {}
    for row in fleet:
        if row[4] is not None or row[2] in evidence.INTERVAL_KINDS:  # intervals: few, and not monotonic in time
            taken.append(_fleet_entry(candidates, row))
            rank(row[0], candidates[row[0]])
        else:
            groups.setdefault((row[2], row[3], bool(row[5])), []).append(row)
    boost = max(evidence.SCOPE.values()) if used else None
    bound = evidence.bound(hi, boost)
    heads = [(-bound(key, rows[0][1]), key, 0) for key, rows in groups.items()]
    heapq.heapify(heads)
    while heads and -heads[0][0] >= (top[0] if len(top) == limit else 0.0) - 0.01:
        _, key, index = heapq.heappop(heads)
        row = groups[key][index]
        taken.append(_fleet_entry(candidates, row))
        rank(row[0], candidates[row[0]])
        if index + 1 < len(groups[key]):
            heapq.heappush(heads, (-bound(key, groups[key][index + 1][1]), key, index + 1))
    if used and taken:
        for event_id, keys in _tools_of(taken).items():
            related = {(key,) for key in keys if key in used}
            if related:
                entry = candidates[event_id]
                entry.update(relations_before=entry["relations"], relations=related, names_agent=False)
                _relate(entry, used, agent_ids)
                rank(event_id, entry)
    chosen = []
    for _, age, _, negative_id, occurred_at, ended_at in heapq.nsmallest(limit, ranked.values()):
        candidates[-negative_id].update(occurred_at=occurred_at, ended_at=ended_at,
                                        seconds_before=int(age.total_seconds()))
        chosen.append(-negative_id)
    return chosen


def _fleet_entry(candidates, row):
    """Make ``row`` (a change naming no agent) a candidate, fleet-wide for now; its id."""
    scope, reason = evidence.fleet_relation(row[2])
    candidates[row[0]] = {"row": row, "scope": scope, "relations": [reason], "fleet": True}
    return row[0]


def _tools_of(event_ids):
    """{event id: {("tool", id), ("toolchain", id)}} of the tools and toolchains ``event_ids`` name."""
    named = {}
    for noun, junction, column in (("tool", EventTool, EventTool.tool),
                                   ("toolchain", EventToolchain, EventToolchain.toolchain)):
        for chunk in chunks(event_ids):
            for event_id, entity_id in database.execute(junction.select(junction.event, column)
                                                        .where(junction.event.in_(chunk))).fetchall():
                named.setdefault(event_id, set()).add((noun, entity_id))
    return named


_SEVERITY_ORDER = {severity: i for i, severity in enumerate(SEVERITIES)}
_ROW = (Event.id, Event.occurred_at, Event.type, Event.severity, Event.ended_at, Event.unplanned)


def _moment(value):
    """A time as the driver returns it (SQLite: text) as a naive UTC datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _ongoing_at(lo):
    """Ids of the intervals going on at ``lo`` that began in the MAX_LOOKBACK before it, read from the partial index
    event_intervals alone (migration 0006; the condition is written as the index is, so both databases use it)."""
    query = (Event.select(Event.id)
             .where(SQL("(%s)" % INTERVALS), Event.occurred_at >= _shift(lo, -MAX_LOOKBACK), Event.occurred_at < lo,
                    (Event.ended_at > lo) | Event.ended_at.is_null()))
    return [event_id for (event_id,) in database.execute(query).fetchall()]


def _linked(junction, column, entity_ids, lo, hi, ongoing, with_agents=False):
    """(id, occurred_at, type, severity, ended_at, unplanned[, names an agent], entity id) of events linked to
    ``entity_ids`` in [lo, hi) (range scans on the junction's (entity, occurred_at) index, newest first), and of
    the ``ongoing`` intervals linked to them. Rows as the driver returns them: no per-value conversion."""
    if not entity_ids:
        return []
    columns = list(_ROW)
    if with_agents:
        columns.append(fn.EXISTS(EventAgent.select(SQL("1")).where(EventAgent.event == Event.id)))
    query = (junction.select(*columns, column)
             .join(Event, on=(junction.event == Event.id))
             .where(column.in_(entity_ids), junction.occurred_at >= lo, junction.occurred_at < hi)
             .order_by(junction.occurred_at.desc())
             .limit(MAX_CANDIDATES))
    rows = database.execute(query).fetchall()
    if ongoing:
        rows += database.execute(junction.select(*columns, column).join(Event, on=(junction.event == Event.id))
                                 .where(column.in_(entity_ids), junction.event.in_(ongoing))).fetchall()
    return rows


def _fleet_wide(lo, hi, ongoing):
    """(id, occurred_at, type, severity, ended_at, unplanned) of events in [lo, hi) that name no agent, newest
    first, and of such ``ongoing`` intervals: from the partial index event_fleet_wide alone (migration 0006; the
    condition is written as the index is, so both databases use it)."""
    rows = database.execute(Event.select(*_ROW).where(SQL("fleet_wide"), Event.occurred_at >= lo,
                                                      Event.occurred_at < hi)
                            .order_by(Event.occurred_at.desc()).limit(MAX_CANDIDATES)).fetchall()
    if ongoing:
        rows += database.execute(Event.select(*_ROW).where(SQL("fleet_wide"), Event.id.in_(ongoing))).fetchall()
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
