"""One event's page, made readable: before/after values as people read them (never Python's repr), the history as
field-by-field changes, rollback pairs both ways with the time between them, related events and comments."""
import json
from datetime import datetime

from app.correlation import related, windows
from app.ledger import comments, events, timeline
from app.models import Event

# The audit view's fields in the order people look for them; the rest follow alphabetically.
FIELD_ORDER = ("title", "type", "severity", "occurred_at", "ended_at", "agents", "tools", "toolchains", "tags",
               "description", "changes", "links", "build_url", "metadata", "reverts", "source", "dedupe_key",
               "count")
HIDDEN = {"id", "created_at", "updated_at", "first_seen", "last_seen", "created_by"}
LABELS = {"occurred_at": "occurred at", "ended_at": "ended at", "build_url": "build URL", "dedupe_key": "dedupe key"}


def value_view(value):
    """How a stored value reads on a page: {"kind": none|text|list|json|time, "text": str}."""
    if value is None or value == "" or value == [] or value == {}:
        return {"kind": "none", "text": "none"}
    if isinstance(value, bool):
        return {"kind": "text", "text": "yes" if value else "no"}
    if isinstance(value, datetime):
        return {"kind": "time", "text": value.strftime("%Y-%m-%d %H:%M:%S UTC"), "iso": value.isoformat()}
    if isinstance(value, str):
        moment = _as_time(value)
        if moment is not None:
            return {"kind": "time", "text": moment.strftime("%Y-%m-%d %H:%M:%S UTC"), "iso": value}
        return {"kind": "text", "text": value}
    if isinstance(value, (int, float)):
        return {"kind": "text", "text": str(value)}
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return {"kind": "list", "text": ", ".join(value), "items": value}
    return {"kind": "json", "text": json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)}


def _as_time(text):
    if len(text) < 19 or text[4:5] != "-" or text[10:11] != "T":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def field_rows(before, after):
    """[{field, label, before, after}] for the fields either side holds, in FIELD_ORDER; only those that differ
    when both sides are given (an update), every one when one side is empty (a create or a delete)."""
    before, after = before or {}, after or {}
    names = [n for n in FIELD_ORDER if n in before or n in after]
    names += sorted((set(before) | set(after)) - set(names) - HIDDEN)
    both = bool(before) and bool(after)
    rows = []
    for name in names:
        if name in HIDDEN or (both and before.get(name) == after.get(name)):
            continue
        if not both and value_view(before.get(name) if before else after.get(name))["kind"] == "none":
            continue
        rows.append({"field": name, "label": LABELS.get(name, name.replace("_", " ")),
                     "before": value_view(before.get(name)) if before else None,
                     "after": value_view(after.get(name)) if after else None})
    return rows


def history(event_id):
    """The event's audit entries, newest first, each with its field rows."""
    return [dict(entry, rows=field_rows(entry["before"], entry["after"]))
            for entry in reversed(events.event_history(event_id))]


def change_rows(changes):
    """The event's ``changes`` ({path, before, after}) with readable values."""
    return [{"path": c.get("path"), "before": value_view(c.get("before")), "after": value_view(c.get("after"))}
            for c in changes or ()]


def rollbacks(event):
    """{"reverts": {event, after} or None, "reverted_by": [{event, after}]}: what this event rolls back and what
    rolled it back, each with the time between the two (``after``: "2h 15m later")."""
    pairs = {"reverts": None, "reverted_by": []}
    if event["reverts"] is not None:
        target = Event.get_or_none(Event.id == event["reverts"])
        if target is not None:
            target = events.with_links([target])[0]
            pairs["reverts"] = {"event": target, "after": _span(target["occurred_at"], event["occurred_at"], "after it",
                                                                 "before it")}
    undoing = list(Event.select().where(Event.reverts == event["id"]).order_by(Event.occurred_at, Event.id))
    for rollback in events.with_links(undoing):
        pairs["reverted_by"].append({"event": rollback, "after": _span(event["occurred_at"], rollback["occurred_at"])})
    return pairs


def _span(first, second, later="later", earlier="earlier"):
    seconds = (second - first).total_seconds()
    if seconds == 0:
        return "at the same time"
    return "%s %s" % (windows.describe_span(seconds), later if seconds > 0 else earlier)


def ongoing(event):
    """An outage or maintenance without an end: still going on."""
    return event["type"] in timeline.INTERVAL_TYPES and event["ended_at"] is None


def context(event):
    """What templates/event.html needs besides the form."""
    return {"event": event, "changes": change_rows(event["changes"]), "history": history(event["id"]),
            "comments": comments.list_comments(event["id"]), "related": related.related(event["id"]),
            "rollbacks": rollbacks(event), "ongoing": ongoing(event), "metadata": value_view(event["metadata"])}
