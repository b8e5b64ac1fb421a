"""What a ``repository:tag`` pointed at just before a moment, as the service last saw it: an earlier push or
delete recorded in the ledger, or the registry poller's snapshot of the tag.

Registry notifications carry only the new digest (a tag delete not even that); the event's ``before`` and the
deleted tag's digest come from here. Looked up strictly before the notification's own time, so a retried or
replayed notification gets the same answer as the first delivery, whatever was recorded in between.
"""
from app.db import from_db_time, to_db_time
from app.models import Event, EventTool, Snapshot, Tool
from app.polling.snapshot_diff import image_tool_name


class TagHistory:
    """Lookups for one inbox batch: events planned earlier in the batch (not written yet) count as seen."""

    def __init__(self):
        self.planned = []  # (tools, occurred_at, digest)

    def note(self, tools, occurred_at, digest):
        self.planned.append((set(tools), occurred_at, digest))

    def before(self, tools, reference, moment):
        """The digest ``reference`` (or any of ``tools``, the names it has in the ledger) pointed at before
        ``moment``, or None when unknown or deleted."""
        candidates = [(occurred, digest) for names, occurred, digest in self.planned
                      if names & set(tools) and occurred < moment]
        candidates += _from_events(tools, reference, moment) + _from_snapshots(reference, moment)
        return max(candidates, key=lambda c: c[0])[1] if candidates else None


def _from_events(tools, reference, moment):
    """[(occurred_at, digest after)] of the newest docker_image event of these tools before ``moment``."""
    row = (Event.select(Event.occurred_at, Event.changes)
           .join(EventTool, on=(EventTool.event == Event.id)).join(Tool, on=(EventTool.tool == Tool.id))
           .where((Tool.name.in_(list(tools))) & (Event.type == "docker_image")
                  & (EventTool.occurred_at < to_db_time(moment)))
           .order_by(EventTool.occurred_at.desc(), Event.id.desc()).first())
    if row is None:
        return []
    for change in row.changes or []:
        if isinstance(change, dict) and change.get("path") in (reference, "digest"):
            return [(from_db_time(row.occurred_at), change.get("after"))]
    return []


def _from_snapshots(reference, moment):
    """[(observed_at, digest)] of the poller's newest snapshot of ``reference`` on any registry before ``moment``."""
    rows = (Snapshot.select(Snapshot.key, Snapshot.observed_at, Snapshot.content)
            .where((Snapshot.collector == "docker_image") & Snapshot.key.endswith("/" + reference)
                   & (Snapshot.observed_at < to_db_time(moment)))
            .order_by(Snapshot.observed_at.desc()).limit(20))
    for row in rows:
        if image_tool_name(row.key) == reference and isinstance(row.content, dict):
            return [(from_db_time(row.observed_at), row.content.get("digest"))]
    return []
