"""Collectors observe the world and return plain data; they never touch the database.

Each returns ``Observation`` dicts ``{"collector", "key", "observed_at", "content"}`` (the body of
``POST /api/v1/snapshots``) plus the errors it met, so the caller decides whether to submit the
observations locally (app.polling.snapshots) or push them to a remote tracker (app.polling.runner).
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone


def observation(collector, key, content, observed_at=None):
    """One thing observed: what a snapshot submission carries."""
    when = observed_at or datetime.now(timezone.utc)
    return {"collector": collector, "key": key, "observed_at": when.isoformat().replace("+00:00", "Z"),
            "content": content}


def error(target, exc_or_message):
    """An error met while observing ``target``, as plain data for PollRun.errors and the summary."""
    if isinstance(exc_or_message, BaseException):
        message = "%s: %s" % (type(exc_or_message).__name__, str(exc_or_message).strip().splitlines()[0]
                              if str(exc_or_message).strip() else "")
        message = message.rstrip(": ")
    else:
        message = str(exc_or_message)
    return {"target": target, "message": message[:1000]}


@dataclass
class Collected:
    """What one collector run saw: observations to submit, the errors met on the way, a few counts."""

    observations: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def extend(self, other):
        self.observations.extend(other.observations)
        self.errors.extend(other.errors)
        for key, value in other.stats.items():
            self.stats[key] = self.stats.get(key, 0) + value
