"""What changed between two observations of the same thing, and how to say it in one line.

``diff`` compares two normalised snapshot contents structurally: dicts key by key, lists and scalars
as whole values. A value that is a redacted secret (``********``, what Jenkins shows a caller without
Configure permission) on either side is not a change, nor is an encrypted secret (``{AQAAAB...}``)
on both sides (Jenkins re-encrypts with a fresh IV on every save). Each collector names the parts
that are runtime state rather than configuration (``IGNORED``).

``events_for`` groups the changes of one snapshot into the events to record: one per agent, per
controller's node list, per plugin, for the core, per image tag, per package, each with a readable
title such as "linux-07: label docker added; JDK tool home /opt/jdk-17.0.8 → /opt/jdk-17.0.9; env
MAVEN_OPTS changed".
"""
import re
from dataclasses import dataclass, field

REDACTED = "********"
_ENCRYPTED = re.compile(r"^\{[A-Za-z0-9+/]{20,}={0,2}\}$")
TITLE_MAX = 200
VALUE_MAX = 60
MAX_CHANGES = 1000

COLLECTORS = ("jenkins_agent", "jenkins_nodes", "jenkins_plugins", "docker_image", "package")
# Runtime state and identity, not configuration: kept in the snapshot, never an event.
IGNORED = {
    "jenkins_agent": {("observed",), ("url",), ("controller",), ("name",)},
    "jenkins_nodes": {("url",), ("controller",)},
    "jenkins_plugins": {("url",), ("controller",)},
    "docker_image": {("image",)},
    "package": {("index",), ("name",)},
}
_MISSING = object()


@dataclass
class Change:
    keys: tuple
    before: object
    after: object

    @property
    def path(self):
        return ".".join(str(k) for k in self.keys)

    def as_dict(self):
        return {"path": self.path[:500], "before": self.before, "after": self.after}


@dataclass
class PlannedEvent:
    """One event to record for a group of changes."""

    type: str
    title: str
    changes: list
    severity: str = "info"
    agents: list = field(default_factory=list)
    tools: list = field(default_factory=list)  # (name, kind)


def is_secret(value):
    return isinstance(value, str) and (value == REDACTED or bool(_ENCRYPTED.match(value)))


def diff(before, after, ignored=()):
    """[Change] between two contents, in key order; ``ignored`` holds key-tuple prefixes to skip."""
    changes = []
    _walk((), before, after, set(ignored), changes)
    return changes


def _walk(keys, before, after, ignored, changes):
    if any(keys[:len(prefix)] == prefix for prefix in ignored):
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            _walk(keys + (key,), before.get(key, _MISSING), after.get(key, _MISSING), ignored, changes)
        return
    if before is _MISSING or after is _MISSING:
        changes.append(Change(keys, None if before is _MISSING else before, None if after is _MISSING else after))
        return
    if before == after:
        return
    if is_secret(before) or is_secret(after):
        if before == REDACTED or after == REDACTED or (is_secret(before) and is_secret(after)):
            return
    changes.append(Change(keys, before, after))


# --- grouping and titles ------------------------------------------------------------------------

def events_for(collector, key, content, changes):
    """The events to record for ``changes`` of one snapshot of ``collector``/``key``."""
    if not changes:
        return []
    planner = {
        "jenkins_agent": _agent_events,
        "jenkins_nodes": _nodes_events,
        "jenkins_plugins": _plugin_events,
        "docker_image": _image_events,
        "package": _package_events,
    }[collector]
    return planner(key, content, changes)


# The order an agent's title names its changes in: what people scan for first.
_AGENT_ORDER = {"temporarily_offline": 0, "labels": 1, "tools": 2, "env": 3, "executors": 4, "mode": 5, "launcher": 6,
                "remote_fs": 7, "retention": 8, "properties": 9, "description": 10}


def _agent_events(key, content, changes):
    name = content.get("name") or key.rsplit("/", 1)[-1]
    parts, tools = [], []  # parts: (rank, text)
    launcher_settings, properties = [], {}
    for change in changes:
        head = change.keys[0]
        rank = _AGENT_ORDER.get(head, len(_AGENT_ORDER))
        if head == "labels":
            parts.extend((rank, part) for part in _label_parts(change.before or [], change.after or []))
        elif head == "tools" and len(change.keys) >= 2:
            tool = change.keys[1]
            current = (content.get("tools") or {}).get(tool) or change.before or {}
            tools.append((tool, current.get("kind", "other") if isinstance(current, dict) else "other"))
            parts.append((rank, _tool_part(change)))
        elif head == "env" and len(change.keys) == 2:
            parts.append((rank, "env %s %s" % (change.keys[1], _verb(change))))
        elif head == "launcher" and change.keys[1:2] == ("settings",) and len(change.keys) > 2:
            launcher_settings.append(".".join(map(str, change.keys[2:])))
        elif head == "launcher" and change.keys[1:] == ("type",):
            parts.append((rank, "launcher %s → %s" % (_short_class(change.before), _short_class(change.after))))
        elif head == "properties" and len(change.keys) >= 2:
            properties.setdefault(change.keys[1], []).append(change)
        elif head == "temporarily_offline":
            parts.append((rank, "marked temporarily offline" if change.after else "no longer marked temporarily offline"))
        elif head in ("executors", "mode", "remote_fs", "retention"):
            label = {"executors": "executors", "mode": "mode", "remote_fs": "remote FS",
                     "retention": "retention strategy"}[head]
            before, after = change.before, change.after
            if head == "retention":
                before, after = _short_class(before), _short_class(after)
            parts.append((rank, "%s %s → %s" % (label, _value(before), _value(after))))
        elif head == "description":
            parts.append((rank, "description changed"))
        else:
            parts.append((rank, "%s %s" % (change.path, _verb(change))))
    if launcher_settings:
        shown = launcher_settings[:5] + (["…"] if len(launcher_settings) > 5 else [])
        parts.append((_AGENT_ORDER["launcher"], "launcher %s changed" % ", ".join(shown)))
    for prop, prop_changes in properties.items():
        whole = len(prop_changes) == 1 and len(prop_changes[0].keys) == 2
        parts.append((_AGENT_ORDER["properties"], "node property %s %s" % (
            _short_class(prop), _verb(prop_changes[0]) if whole else "changed")))
    parts.sort(key=lambda part: part[0])
    return [PlannedEvent("agent_config", _title(name + ": ", [text for _, text in parts]), changes, agents=[name],
                         tools=tools)]


def _label_parts(before, after):
    before, after = set(before), set(after)
    parts = []
    for names, verb in ((sorted(after - before), "added"), (sorted(before - after), "removed")):
        if names:
            parts.append("label%s %s %s" % ("s" if len(names) > 1 else "", ", ".join(names), verb))
    return parts or ["labels reordered"]


def _tool_part(change):
    tool = change.keys[1]
    if len(change.keys) == 2:
        if change.before is None:
            home = change.after.get("home") if isinstance(change.after, dict) else None
            return "tool %s added%s" % (tool, " (%s)" % _value(home) if home else "")
        if change.after is None:
            return "tool %s removed" % tool
    if change.keys[2:] == ("home",):
        return "%s tool home %s → %s" % (tool, _value(change.before), _value(change.after))
    return "%s tool %s changed" % (tool, ".".join(map(str, change.keys[2:])))


def _nodes_events(key, content, changes):
    controller = content.get("controller") or key
    added, removed = [], []
    for change in changes:
        if change.keys == ("agents",):
            added = sorted(set(change.after or []) - set(change.before or []))
            removed = sorted(set(change.before or []) - set(change.after or []))
    parts = []
    for names, verb in ((added, "added"), (removed, "removed")):
        if names:
            parts.append("agent%s %s %s" % ("s" if len(names) > 1 else "", ", ".join(names), verb))
    if not parts:
        return []
    return [PlannedEvent("agent_config", _title(controller + ": ", parts), changes, agents=(added + removed)[:1000])]


def _plugin_events(key, content, changes):
    controller = content.get("controller") or key
    events = []
    core = [c for c in changes if c.keys[0] == "core"]
    if core:
        events.append(PlannedEvent("jenkins_core", _title("", ["Jenkins core %s → %s on %s" % (
            _value(core[0].before), _value(core[0].after), controller)]), core, severity="medium",
            tools=[("jenkins-core", "jenkins")]))
    by_plugin = {}
    for change in changes:
        if change.keys[0] == "plugins" and len(change.keys) >= 2:
            by_plugin.setdefault(change.keys[1], []).append(change)
    for plugin, plugin_changes in by_plugin.items():
        parts = []
        for change in plugin_changes:
            rest = change.keys[2:]
            if not rest:
                if change.before is None:
                    parts.append("Plugin %s %s installed on %s" % (plugin, _value((change.after or {}).get("version")), controller))
                else:
                    parts.append("Plugin %s removed from %s" % (plugin, controller))
            elif rest == ("version",):
                parts.append("Plugin %s %s → %s on %s" % (plugin, _value(change.before), _value(change.after), controller))
            elif rest == ("enabled",):
                parts.append("Plugin %s %s on %s" % (plugin, "enabled" if change.after else "disabled", controller))
            elif rest == ("active",):
                parts.append("Plugin %s %s on %s" % (plugin, "active again" if change.after else "inactive (not loaded)",
                                                     controller))
            else:
                parts.append("Plugin %s %s changed on %s" % (plugin, ".".join(map(str, rest)), controller))
        events.append(PlannedEvent("plugin_update", _title("", parts), plugin_changes, tools=[(plugin, "plugin")]))
    rest = [c for c in changes if c.keys[0] not in ("core", "plugins")]
    if rest:
        events.append(PlannedEvent("plugin_update", _title(controller + ": ", [
            "%s %s" % (c.path, _verb(c)) for c in rest]), rest))
    return events


def _image_events(key, content, changes):
    digest = next((c for c in changes if c.keys == ("digest",)), None)
    if digest is not None:
        title = "Image %s now %s (was %s)" % (key, _short_digest(digest.after), _short_digest(digest.before))
    else:
        title = "Image %s: %s" % (key, "; ".join("%s %s" % (c.path, _verb(c)) for c in changes))
    return [PlannedEvent("docker_image", _title("", [title]), changes, tools=[(image_tool_name(key), "docker_image")])]


def _package_events(key, content, changes):
    name = content.get("name") or key.split("/", 1)[-1]
    index = content.get("index") or key.split("/", 1)[0]
    version = next((c for c in changes if c.keys == ("version",)), None)
    if version is not None:
        title = "Package %s %s → %s (%s)" % (name, _value(version.before), _value(version.after), _INDEX_NAMES.get(index, index))
    else:
        title = "Package %s: %s" % (name, "; ".join("%s %s" % (c.path, _verb(c)) for c in changes))
    return [PlannedEvent("package_update", _title("", [title]), changes, tools=[(name.replace("/", ":"), "package")])]


_INDEX_NAMES = {"pypi": "PyPI", "npm": "npm", "json": "JSON source"}


def image_tool_name(key):
    """"registry.internal/library/python:3.12" → "library/python:3.12": the repository and tag, which is also the
    tool a registry webhook names (app.ingest.mappings, without a tool_prefix), so a tag seen by the poller
    and pushed through the webhook is one tool; two repositories with the same last segment stay two."""
    return key.split("/", 1)[1] if "/" in key else key


def _verb(change):
    if change.before is None:
        return "added"
    if change.after is None:
        return "removed"
    return "changed"


def _short_class(name):
    """"hudson.plugins.sshslaves.SSHLauncher" → "SSHLauncher"; "hudson.slaves.RetentionStrategy$Always" → "Always"."""
    if not isinstance(name, str):
        return _value(name)
    return re.split(r"[.$]", name)[-1] or name


def _short_digest(digest):
    if not isinstance(digest, str):
        return _value(digest)
    algorithm, _, hexdigest = digest.partition(":")
    return "%s:%s" % (algorithm, hexdigest[:12]) if hexdigest else digest[:19]


def _value(value):
    text = "none" if value is None or value == "" else str(value)
    text = text.replace("\x00", "")
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX - 1] + "…"


def _title(prefix, parts):
    """prefix + parts joined by "; ", cut to TITLE_MAX with "; and N more" naming what was left out."""
    parts = [p.replace("\x00", "") for p in parts]
    title = prefix + "; ".join(parts)
    if len(title) <= TITLE_MAX:
        return title
    for shown in range(len(parts) - 1, 0, -1):
        title = "%s%s; and %d more" % (prefix, "; ".join(parts[:shown]), len(parts) - shown)
        if len(title) <= TITLE_MAX:
            return title
    return (prefix + parts[0])[:TITLE_MAX - 1] + "…"
