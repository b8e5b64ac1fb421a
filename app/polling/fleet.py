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
from collections import Counter

from marshmallow import Schema, fields

from app.db import from_db_time
from app.fields import Text
from app.models import Agent, Event, EventAgent, EventTool, Tool
from app.polling import snapshots

_DOTTED = re.compile(r"\d+(?:\.\d+)+(?:_\d+)?(?:[+.][0-9A-Za-z]+)?")
_DASHED = re.compile(r"(?:^|[-_@])(\d+)(?=$|[-_.])")
_CHUNKS = re.compile(r"(\d+)")


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
    agent_rows = _agent_rows()
    controller_rows = _controller_rows()
    agents, agent_outliers = _matrix(agent_rows)
    controllers, controller_outliers = _matrix(controller_rows)
    _attach_agent_events(agent_outliers)
    _attach_plugin_events(controller_outliers)
    outliers = []
    for name, found in (("agents", agent_outliers), ("controllers", controller_outliers)):
        for outlier in found:
            outlier["cell"]["event_id"] = outlier["event"]["id"] if outlier["event"] else None
            outliers.append({"matrix": name, "row": outlier["row"], "controller": outlier["controller"],
                             "column": outlier["column"], "version": outlier["version"],
                             "majority": outlier["majority"], "event": outlier["event"]})
    observed = [r["observed_at"] for r in agent_rows + controller_rows]
    return {"observed_until": max(observed) if observed else None, "agents": agents,
            "controllers": controllers, "outliers": outliers}


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
            if not home:
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


def _matrix(rows):
    """({"columns", "rows"}, outliers): the public matrix, and the outliers with what finds their event."""
    values, kinds = {}, {}
    for row in rows:
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
            cell["event_id"] = None
            if cell["outlier"]:
                odd += 1
                outliers.append({"row": row["name"], "column": column, "version": cell["version"],
                                 "majority": majority, "controller": row["controller"], "event": None,
                                 "key": row["key"], "home": cell.get("home"), "cell": cell})
        columns.append({"name": column, "kind": kinds[column], "majority": majority, "rows": sum(counts.values()),
                        "outliers": odd, "versions": dict(counts.most_common())})
    public_rows = [{"name": r["name"], "controller": r["controller"], "observed_at": r["observed_at"],
                    "cells": r["cells"]} for r in rows]
    return {"columns": columns, "rows": public_rows}, outliers


def _attach_agent_events(outliers):
    """The newest poller event on each outlier's agent whose change set that tool home."""
    pending = {(o["key"], o["column"]): o for o in outliers}
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
            for (key, tool), outlier in list(pending.items()):
                if outlier["row"] == event.agent_name and (
                        (path == "tools.%s.home" % tool and after == outlier["home"]) or
                        (path == "tools.%s" % tool and isinstance(after, dict) and after.get("home") == outlier["home"])):
                    outlier["event"] = _event_ref(event)
                    del pending[(key, tool)]
        if not pending:
            break


def _attach_plugin_events(outliers):
    """The newest core/plugin event of each outlier's controller whose change set that version."""
    pending = {(o["key"], o["column"]): o for o in outliers}
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
            for (controller_key, column), outlier in list(pending.items()):
                if controller_key != key:
                    continue
                version = outlier["version"]
                if column == "core":
                    hit = path == "core" and str(after) == version
                else:
                    hit = (path == "plugins.%s.version" % column and str(after) == version) or (
                        path == "plugins.%s" % column and isinstance(after, dict)
                        and str(after.get("version")) == version)
                if hit:
                    outlier["event"] = _event_ref(event)
                    del pending[(controller_key, column)]
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
