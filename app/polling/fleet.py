"""Fleet drift: which agents (and controllers) run a different version than most of their peers.

Built from the newest snapshots only: each agent's tool locations (``jenkins_agent``: the version is
read from the tool's home path where it carries one, e.g. /opt/jdk-17.0.9 → 17.0.9, else the path
itself is the value) and each controller's core and plugins (``jenkins_plugins``). Agents that the
controller's newest node list no longer names are left out. Per column: the majority value (ties go
to the newest-looking version), and every row holding another value is an outlier, with the event
that introduced that value on that row (the newest poller event whose change set it), or none when
the value was there from the first (baseline) snapshot.
"""
import re
import threading
from collections import Counter
from functools import lru_cache

from marshmallow import EXCLUDE, Schema, fields, validate
from peewee import fn

from app.db import from_db_time
from app.fields import Text, load_query
from app.models import Agent, Event, EventAgent, EventTool, Snapshot, Tool
from app.polling import snapshots

_DOTTED = re.compile(r"\d+(?:\.\d+)+(?:_\d+)?(?:[+.][0-9A-Za-z]+)?")
_DASHED = re.compile(r"(?:^|[-_@])(\d+)(?=$|[-_.])")
_CHUNKS = re.compile(r"(\d+)")
# The snapshots the matrices are built from.
COLLECTORS = ("jenkins_agent", "jenkins_nodes", "jenkins_plugins")


@lru_cache(maxsize=65536)  # a fleet repeats a few hundred tool homes thousands of times
def version_from_home(home):
    """A version read from a tool's home path, or None: /opt/jdk-17.0.9 → 17.0.9,
    C:\\Program Files\\Java\\jdk1.8.0_112 → 1.8.0_112, /usr/lib/jvm/java-17-openjdk-amd64 → 17,
    /opt/apache-maven-3.9.6/bin → 3.9.6. The innermost path segment with a version wins."""
    if not isinstance(home, str) or not home:
        return None
    for segment in reversed([s for s in re.split(r"[\\/]", home) if s]):
        match = _DOTTED.search(segment)
        if match:
            return match.group(0)
        match = _DASHED.search(segment)
        if match:
            return match.group(1)
    return None


def version_key(value):
    """Natural order: 1.10 after 1.9, 17.0.10 after 17.0.9."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _CHUNKS.split(str(value)) if part]


def drift():
    """The drift matrices: {"observed_until", "agents": {columns, rows}, "controllers": {columns, rows}, "outliers"}."""
    fleet, observed = _matrices()
    agents, agent_outliers = _view(fleet["agents"], fleet["agents"]["rows"], fleet["agents"]["columns"], observed)
    controllers, controller_outliers = _view(fleet["controllers"], fleet["controllers"]["rows"],
                                             fleet["controllers"]["columns"], observed)
    return {"observed_until": _observed_until(fleet, observed), "agents": agents, "controllers": controllers,
            "outliers": agent_outliers + controller_outliers}


class FleetQuerySchema(Schema):
    """What /fleet shows of the agents × tools matrix: a page of agents and a page of tools, narrowed by name."""

    class Meta:
        unknown = EXCLUDE

    agent = Text(load_default="", validate=validate.Length(max=200),
                 metadata={"description": "agents whose name contains this (any case)"})
    tool = Text(load_default="", validate=validate.Length(max=200),
                metadata={"description": "tools (and plugins) whose name contains this (any case)"})
    drifting = fields.Boolean(load_default=False, metadata={"description": "only tools with outliers"})
    odd = fields.Boolean(load_default=False,
                         metadata={"description": "only agents with an outlier among the tools shown"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                          metadata={"description": "page of agents"})
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=10, max=200))
    tools_page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                                metadata={"description": "page of tools"})
    tools_per_page = fields.Integer(load_default=12, validate=validate.Range(min=4, max=100))


def parse_fleet_query(args):
    """The query of ``drift_page`` from query-string arguments; blank fields mean "no filter"."""
    return load_query(FleetQuerySchema(), args)


def drift_page(query):
    """One page of the drift matrices for a person to read: {"observed_until", "fleet" (totals of the whole
    fleet), "agents" (the page of agents × the page of tools, with "rows_page" and "columns_page"),
    "controllers" (every controller × core and the drifting plugins the tool filter leaves), "outliers" (those
    shown, each with the event that introduced it)}. Pages past the end show the last one."""
    fleet, observed = _matrices()
    agents, controllers = fleet["agents"], fleet["controllers"]
    columns = _named(agents["columns"], query["tool"])
    if query["drifting"]:
        columns = [c for c in columns if c["outliers"]]
    columns_page = _page(columns, query["tools_page"], query["tools_per_page"])
    rows = _named(agents["rows"], query["agent"])
    if query["odd"]:
        drifting = {c["name"] for c in columns}
        rows = [r for r in rows if not r["odd"].isdisjoint(drifting)]
    rows_page = _page(rows, query["page"], query["per_page"])
    agent_view, agent_outliers = _view(agents, rows_page.pop("items"), columns_page.pop("items"), observed)
    plugins = [c for c in _named(controllers["columns"], query["tool"]) if c["name"] == "core" or c["outliers"]]
    controller_view, controller_outliers = _view(controllers, controllers["rows"], plugins, observed)
    return {
        "observed_until": _observed_until(fleet, observed),
        "fleet": {"agents": len(agents["rows"]), "tools": len(agents["columns"]),
                  "outliers": len(agents["outliers"]), "drifting_tools": sum(1 for c in agents["columns"] if c["outliers"]),
                  "controllers": len(controllers["rows"]), "plugins": len(controllers["columns"]),
                  "drifting_plugins": sum(1 for c in controllers["columns"] if c["outliers"])},
        "agents": dict(agent_view, rows_page=rows_page, columns_page=columns_page),
        "controllers": dict(controller_view, hidden_columns=len(controllers["columns"]) - len(plugins)),
        "outliers": agent_outliers + controller_outliers,
    }


def agent_tools(name):
    """What the fleet matrix says of one agent: {"observed_at", "tools": [{"name", "version", "home", "majority",
    "outlier", "event"}]}, or None when no snapshot of it is current."""
    fleet, observed = _matrices()
    agents = fleet["agents"]
    rows = [r for r in agents["rows"] if r["name"] == name]
    if not rows:
        return None
    mine = [c for c in agents["columns"] if c["name"] in rows[0]["cells"]]
    view, outliers = _view(agents, rows[:1], mine, observed)
    events = {o["column"]: o["event"] for o in outliers}
    cells = view["rows"][0]["cells"]
    return {"observed_at": view["rows"][0]["observed_at"],
            "tools": [{"name": c["name"], "version": cells[c["name"]]["version"], "home": cells[c["name"]].get("home"),
                       "majority": c["majority"], "outlier": cells[c["name"]]["outlier"],
                       "event": events.get(c["name"])} for c in mine]}


def tool_versions(name):
    """The versions of one tool (or plugin, or "core") across the fleet: its column of the matrix, {"matrix",
    "name", "kind", "majority", "rows", "outliers", "versions"}, or None when no snapshot names it."""
    fleet, _ = _matrices()
    for matrix in (fleet["agents"], fleet["controllers"]):
        for column in matrix["columns"]:
            if column["name"] == name:
                return dict(column, matrix=matrix["name"])
    return None


def _named(items, part):
    part = part.casefold()
    return [i for i in items if part in i["name"].casefold()] if part else items


def _page(items, page, per_page):
    """{"items" (the page), "page", "pages", "per_page", "total", "first", "last"} (first/last 1-based)."""
    pages = max(1, -(-len(items) // per_page))
    page = min(page, pages)
    start = (page - 1) * per_page
    shown = items[start:start + per_page]
    return {"items": shown, "page": page, "pages": pages, "per_page": per_page, "total": len(items),
            "first": start + 1 if shown else 0, "last": start + len(shown)}


# The matrices of the newest snapshots, kept per process while those snapshots say the same: building them reads
# and parses every agent's snapshot (500 agents × 200 tools: ~1 s), knowing whether they changed costs one small
# query. A poll that finds nothing new only moves the snapshots' observed_at, which each view reads afresh.
_built = {"fingerprint": None, "fleet": None}
_building = threading.Lock()


def _matrices():
    """(fleet, observed): fleet is {"agents": matrix, "controllers": matrix}, a matrix {"name", "collector",
    "columns", "rows", "outliers"} with private rows (their snapshot key) and outliers without their events,
    shared: never mutate it. observed: {(collector, key): when its newest snapshot was last observed}."""
    newest = _newest_snapshots()
    fingerprint = frozenset((where, snapshot_id, digest) for where, (snapshot_id, digest, _) in newest.items())
    with _building:
        if _built["fingerprint"] != fingerprint:
            _built["fleet"] = {"agents": _matrix("agents", "jenkins_agent", _agent_rows()),
                               "controllers": _matrix("controllers", "jenkins_plugins", _controller_rows())}
            _built["fingerprint"] = fingerprint
        fleet = _built["fleet"]
    return fleet, {where: from_db_time(observed_at) for where, (_, _, observed_at) in newest.items()}


def _newest_snapshots():
    """{(collector, key): (id, content digest, observed_at)} of the newest snapshot of every key the matrices read."""
    newest = (Snapshot.select(fn.MAX(Snapshot.id)).where(Snapshot.collector.in_(COLLECTORS))
              .group_by(Snapshot.collector, Snapshot.key))
    query = (Snapshot.select(Snapshot.collector, Snapshot.key, Snapshot.id, Snapshot.content_sha256,
                             Snapshot.observed_at).where(Snapshot.id.in_(newest)).tuples())
    return {(collector, key): (snapshot_id, digest, observed_at)
            for collector, key, snapshot_id, digest, observed_at in query}


def _observed_until(fleet, observed):
    times = [observed[(m["collector"], r["key"])] for m in fleet.values() for r in m["rows"]
             if (m["collector"], r["key"]) in observed]
    return max(times) if times else None


def _view(matrix, rows, columns, observed):
    """The public matrix of ``rows`` × ``columns`` (cells of other columns left out) and its outliers, each with
    the event that introduced it; only these outliers' events are looked up."""
    shown = {c["name"] for c in columns}
    names = {r["name"] for r in rows}
    outliers = [dict(o, event=None) for o in matrix["outliers"] if o["column"] in shown and o["row"] in names]
    (_attach_agent_events if matrix["name"] == "agents" else _attach_plugin_events)(outliers)
    introduced = {(o["row"], o["column"]): o["event"]["id"] for o in outliers if o["event"]}
    public_rows = [{"name": r["name"], "controller": r["controller"],
                    "observed_at": observed.get((matrix["collector"], r["key"]), r["observed_at"]),
                    "cells": {c: dict(cell, event_id=introduced.get((r["name"], c)))
                              for c, cell in r["cells"].items() if c in shown}} for r in rows]
    public_outliers = [{"matrix": matrix["name"], "row": o["row"], "controller": o["controller"], "column": o["column"],
                        "version": o["version"], "majority": o["majority"], "event": o["event"]} for o in outliers]
    return {"columns": list(columns), "rows": public_rows}, public_outliers


def _agent_rows():
    current = {}
    for _, content in snapshots.latest("jenkins_nodes").values():
        current[content.get("controller")] = set(content.get("agents") or [])
    rows = []
    for key, (observed_at, content) in snapshots.latest("jenkins_agent").items():
        name = content.get("name") or key.rsplit("/", 1)[-1]
        controller = content.get("controller")
        if controller in current and name not in current[controller]:
            continue  # no longer on its controller
        cells = {}
        for tool, location in sorted((content.get("tools") or {}).items()):
            home = location.get("home") if isinstance(location, dict) else None
            if not home or not isinstance(home, str):
                continue
            version = version_from_home(home)
            cells[tool] = {"version": version or home, "home": home, "kind": location.get("kind") or "other"}
        rows.append({"name": name, "key": key, "controller": controller, "observed_at": observed_at, "cells": cells})
    return sorted(rows, key=lambda r: (str(r["controller"]), r["name"].lower()))


def _controller_rows():
    rows = []
    for key, (observed_at, content) in snapshots.latest("jenkins_plugins").items():
        cells = {}
        if content.get("core"):
            cells["core"] = {"version": str(content["core"]), "kind": "core"}
        for plugin, info in sorted((content.get("plugins") or {}).items()):
            version = info.get("version") if isinstance(info, dict) else None
            if version:
                cells[plugin] = {"version": str(version), "kind": "plugin"}
        rows.append({"name": content.get("controller") or key, "key": key, "controller": None,
                     "observed_at": observed_at, "cells": cells})
    return sorted(rows, key=lambda r: r["name"].lower())


def _matrix(name, collector, rows):
    """{"name", "collector", "columns", "rows", "outliers"}: per column the majority value, each cell marked as an outlier or
    not, and the outliers (column by column, rows in order) with what finds their event."""
    values, kinds = {}, {}
    for row in rows:
        row["odd"] = set()  # the columns where this row is an outlier
        for column, cell in row["cells"].items():
            values.setdefault(column, Counter())[cell["version"]] += 1
            kinds.setdefault(column, cell["kind"])
    columns, outliers = [], []
    for column in sorted(values, key=lambda c: (c != "core", kinds[c] == "plugin", c.lower())):
        counts = values[column]
        majority = max(counts, key=lambda v: (counts[v], version_key(v)))
        odd = 0
        for row in rows:
            cell = row["cells"].get(column)
            if cell is None:
                continue
            cell["outlier"] = cell["version"] != majority
            if cell["outlier"]:
                odd += 1
                row["odd"].add(column)
                outliers.append({"row": row["name"], "column": column, "version": cell["version"],
                                 "majority": majority, "controller": row["controller"], "key": row["key"],
                                 "home": cell.get("home")})
        columns.append({"name": column, "kind": kinds[column], "majority": majority, "rows": sum(counts.values()),
                        "outliers": odd, "versions": dict(counts.most_common())})
    return {"name": name, "collector": collector, "columns": columns, "rows": rows, "outliers": outliers}


def _attach_agent_events(outliers):
    """The newest poller event on each outlier's agent whose change set that tool home."""
    pending = {}
    for outlier in outliers:
        pending.setdefault((outlier["row"], outlier["column"]), []).append(outlier)
    if not pending:
        return
    query = (Event.select(Event.id, Event.title, Event.occurred_at, Event.changes, Agent.name.alias("agent_name"))
             .join(EventAgent, on=(EventAgent.event == Event.id))
             .join(Agent, on=(EventAgent.agent == Agent.id))
             .where(Agent.name.in_(sorted({o["row"] for o in outliers})) & (Event.type == "agent_config")
                    & (Event.source == "poller"))
             .order_by(Event.occurred_at.desc(), Event.id.desc()))
    for event in query.objects().iterator():
        for change in event.changes or []:
            path, after = change.get("path") or "", change.get("after")
            if not path.startswith("tools."):
                continue
            # tools.<name> set the whole location, tools.<name>.home its path (a name may hold dots itself).
            found = [(path[len("tools."):], after.get("home") if isinstance(after, dict) else None)]
            if path.endswith(".home"):
                found.append((path[len("tools."):-len(".home")], after))
            for tool, home in found:
                waiting = pending.get((event.agent_name, tool), [])
                for outlier in [o for o in waiting if o["home"] == home]:
                    outlier["event"] = _event_ref(event)
                    waiting.remove(outlier)
                if not waiting:
                    pending.pop((event.agent_name, tool), None)
        if not pending:
            break


def _attach_plugin_events(outliers):
    """The newest core/plugin event of each outlier's controller whose change set that version."""
    pending = {}
    for outlier in outliers:
        pending.setdefault((outlier["key"], outlier["column"]), []).append(outlier)
    if not pending:
        return
    plugins = sorted({column for _, column in pending if column != "core"})
    of_plugins = (EventTool.select(EventTool.event).join(Tool, on=(EventTool.tool == Tool.id))
                  .where(Tool.name.in_(plugins)))
    query = (Event.select(Event.id, Event.title, Event.occurred_at, Event.changes, Event.metadata)
             .where((Event.source == "poller") & ((Event.type == "jenkins_core")
                                                 | ((Event.type == "plugin_update") & Event.id.in_(of_plugins))))
             .order_by(Event.occurred_at.desc(), Event.id.desc()))
    for event in query.iterator():
        key = (event.metadata or {}).get("key")
        for change in event.changes or []:
            path, after = change.get("path") or "", change.get("after")
            if path == "core":
                column, version = "core", after
            elif path.startswith("plugins.") and path.endswith(".version"):
                column, version = path[len("plugins."):-len(".version")], after
            elif path.startswith("plugins.") and isinstance(after, dict):
                column, version = path[len("plugins."):], after.get("version")
            else:
                continue
            waiting = pending.get((key, column), [])
            for outlier in [o for o in waiting if o["version"] == str(version)]:
                outlier["event"] = _event_ref(event)
                waiting.remove(outlier)
            if not waiting:
                pending.pop((key, column), None)
        if not pending:
            break


def _event_ref(event):
    return {"id": event.id, "title": event.title, "occurred_at": from_db_time(event.occurred_at)}


# --- the response's shape (dumped by the API, documented in OpenAPI) ----------------------------

class FleetCellSchema(Schema):
    version = Text(required=True, metadata={"description": "read from the tool's home path, else the path itself"})
    home = Text(metadata={"description": "tools only: the tool location on the agent"})
    kind = Text(required=True, metadata={"description": "jdk, maven, git, …; core; plugin"})
    outlier = fields.Boolean(required=True)
    event_id = fields.Integer(allow_none=True, required=True,
                              metadata={"description": "outliers: the event that introduced this value"})


class FleetRowSchema(Schema):
    name = Text(required=True)
    controller = Text(allow_none=True, required=True)
    observed_at = fields.DateTime(format="iso", required=True)
    cells = fields.Dict(keys=Text(), values=fields.Nested(FleetCellSchema), required=True,
                        metadata={"description": "column name → cell"})


class FleetColumnSchema(Schema):
    name = Text(required=True)
    kind = Text(required=True)
    majority = Text(required=True, metadata={"description": "the most common value (ties: the newest version)"})
    rows = fields.Integer(required=True, metadata={"description": "rows with a value in this column"})
    outliers = fields.Integer(required=True)
    versions = fields.Dict(keys=Text(), values=fields.Integer(), required=True,
                           metadata={"description": "value → how many rows hold it"})


class FleetMatrixSchema(Schema):
    columns = fields.List(fields.Nested(FleetColumnSchema), required=True)
    rows = fields.List(fields.Nested(FleetRowSchema), required=True)


class EventRefSchema(Schema):
    id = fields.Integer(required=True)
    title = Text(required=True)
    occurred_at = fields.DateTime(format="iso", required=True)


class FleetOutlierSchema(Schema):
    matrix = Text(required=True, metadata={"description": "agents or controllers"})
    row = Text(required=True)
    controller = Text(allow_none=True, required=True)
    column = Text(required=True)
    version = Text(required=True)
    majority = Text(required=True)
    event = fields.Nested(EventRefSchema, allow_none=True, required=True,
                          metadata={"description": "the poller event that introduced this value; null when it was "
                                                   "there from the first snapshot"})


class FleetSchema(Schema):
    observed_until = fields.DateTime(format="iso", allow_none=True, required=True,
                                     metadata={"description": "the newest snapshot the matrices are built from"})
    agents = fields.Nested(FleetMatrixSchema, required=True,
                           metadata={"description": "agents × tools (from the agents' tool locations)"})
    controllers = fields.Nested(FleetMatrixSchema, required=True,
                                metadata={"description": "controllers × core and plugins"})
    outliers = fields.List(fields.Nested(FleetOutlierSchema), required=True)
