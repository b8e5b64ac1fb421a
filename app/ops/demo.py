"""Demo data for a fresh install: a small fleet with a fortnight of believable changes."""
import random
from datetime import datetime, timedelta, timezone

from app.accounts.audit import Actor
from app.ledger.events import record_event
from app.models import Event

DEMO = Actor("demo")
AGENTS = ["linux-01", "linux-02", "linux-03", "linux-04", "linux-05", "win-01", "win-02", "mac-01"]
CHANGES = [
    ("tool_update", "low", "JDK 17.0.8 → 17.0.9", ["jdk-17"], [{"path": "tools/jdk-17/home", "before": "/opt/jdk-17.0.8", "after": "/opt/jdk-17.0.9"}]),
    ("tool_update", "info", "Maven 3.9.5 → 3.9.6", ["maven-3"], [{"path": "tools/maven-3/version", "before": "3.9.5", "after": "3.9.6"}]),
    ("agent_config", "medium", "Label docker added", [], [{"path": "labels", "before": "linux", "after": "linux docker"}]),
    ("agent_config", "low", "MAVEN_OPTS changed", [], [{"path": "env/MAVEN_OPTS", "before": "-Xmx1g", "after": "-Xmx2g"}]),
    ("docker_image", "medium", "maven:3.9-eclipse-temurin-17 re-tagged", ["maven:3.9-eclipse-temurin-17"], []),
    ("package_update", "info", "git 2.39.2 → 2.39.5", ["git"], []),
]
FLEET_WIDE = [
    ("plugin_update", "medium", "Plugin git 5.2.1 → 5.2.2", ["git-plugin"]),
    ("jenkins_core", "high", "Jenkins 2.440.3 → 2.452.1 (LTS)", ["jenkins-core"]),
    ("outage", "critical", "Artifact proxy unreachable", []),
    ("maintenance", "info", "Weekly agent reboot", []),
    ("note", "info", "Switched nightly builds to the new cache volume", []),
]


def seed_events(count=60, now=None, rng=None):
    """Record ``count`` demo events over the last 14 days through the one ingest function."""
    if Event.select().exists():
        return 0
    rng = rng or random.Random(7)
    now = now or datetime.now(timezone.utc)
    for _ in range(count):
        occurred = now - timedelta(minutes=rng.randint(10, 14 * 24 * 60))
        if rng.random() < 0.75:
            kind, severity, title, tools, changes = rng.choice(CHANGES)
            agents = rng.sample(AGENTS, rng.choice([1, 1, 1, 2, 3]))
        else:
            kind, severity, title, tools = rng.choice(FLEET_WIDE)
            agents, changes = [], []
        payload = {
            "title": title, "type": kind, "severity": severity, "source": rng.choice(["poller", "pipeline", "manual"]),
            "occurred_at": occurred.isoformat(), "agents": agents, "tools": tools, "changes": changes,
            "tags": ["demo"],
        }
        if kind in ("outage", "maintenance"):
            payload["ended_at"] = (occurred + timedelta(minutes=rng.randint(15, 180))).isoformat()
        record_event(payload, actor=DEMO)
    return count
