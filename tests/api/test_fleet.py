"""GET /api/v1/fleet: majority per column, outliers, and the event that introduced each."""
from datetime import datetime, timedelta, timezone

from app.accounts.audit import Actor
from app.polling import snapshots
from app.polling.collectors.agent_config import parse_agent_config
from tests.conftest import connected
from tests.fakes.jenkins import agent_config

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
POLLER = Actor("poller")


def observe_agent(name, jdk, minutes=0, controller="ci", maven="/opt/apache-maven-3.9.6"):
    content = parse_agent_config(agent_config(name, tools={"JDK": jdk, "Maven": maven}))
    content.update(name=name, controller=controller, observed={"offline": False})
    return snapshots.submit("jenkins_agent", "%s/%s" % (controller, name), T0 + timedelta(minutes=minutes), content,
                            actor=POLLER)


def observe_plugins(controller, core, minutes=0, **plugins):
    content = {"controller": controller, "core": core,
               "plugins": {n: {"version": v, "enabled": True, "active": True} for n, v in plugins.items()}}
    return snapshots.submit("jenkins_plugins", controller, T0 + timedelta(minutes=minutes), content, actor=POLLER)


def test_drift_matrix_with_outliers_and_the_events_that_introduced_them(app, client, auth):
    with connected(app):
        for n in range(1, 5):
            observe_agent("linux-0%d" % n, "/opt/jdk-17.0.9")
        observe_agent("linux-05", "/opt/jdk-17.0.8")  # different from the first: no event to point at
        changed = observe_agent("linux-02", "/opt/jdk-21.0.2", minutes=30)  # an upgrade on one agent
        snapshots.submit("jenkins_nodes", "ci", T0, {"controller": "ci", "agents": [
            "linux-01", "linux-02", "linux-03", "linux-04", "linux-05"]}, actor=POLLER)
        observe_agent("gone-01", "/opt/jdk-11.0.2")  # in no node list any more: left out
        observe_plugins("ci", "2.462.3", git="5.2.1", junit="1.0")
        observe_plugins("ci-b", "2.462.3", git="5.2.1", junit="1.0")
        observe_plugins("ci-c", "2.462.3", git="5.2.1", junit="1.0")
        plugin_change = observe_plugins("ci-c", "2.462.3", minutes=10, git="5.2.0", junit="1.0")

    response = client.get("/api/v1/fleet", headers=auth.headers(role="viewer", scope="read"))
    assert response.status_code == 200
    fleet = response.json
    agents = fleet["agents"]
    assert [r["name"] for r in agents["rows"]] == ["linux-01", "linux-02", "linux-03", "linux-04", "linux-05"]
    jdk = next(c for c in agents["columns"] if c["name"] == "JDK")
    assert jdk == {"name": "JDK", "kind": "jdk", "majority": "17.0.9", "rows": 5, "outliers": 2,
                   "versions": {"17.0.9": 3, "21.0.2": 1, "17.0.8": 1}}
    maven = next(c for c in agents["columns"] if c["name"] == "Maven")
    assert maven["outliers"] == 0 and maven["majority"] == "3.9.6"
    row = next(r for r in agents["rows"] if r["name"] == "linux-02")
    assert row["cells"]["JDK"] == {"version": "21.0.2", "home": "/opt/jdk-21.0.2", "kind": "jdk", "outlier": True,
                                   "event_id": changed["event_id"]}
    assert row["controller"] == "ci"

    outliers = {(o["row"], o["column"]): o for o in fleet["outliers"]}
    assert set(outliers) == {("linux-02", "JDK"), ("linux-05", "JDK"), ("ci-c", "git")}
    upgrade = outliers[("linux-02", "JDK")]
    assert upgrade["event"]["id"] == changed["event_id"] and upgrade["majority"] == "17.0.9"
    assert upgrade["event"]["title"] == "linux-02: JDK tool home /opt/jdk-17.0.9 → /opt/jdk-21.0.2"
    assert outliers[("linux-05", "JDK")]["event"] is None  # there since its first snapshot
    git = outliers[("ci-c", "git")]
    assert git["matrix"] == "controllers" and git["version"] == "5.2.0" and git["majority"] == "5.2.1"
    assert git["event"]["id"] == plugin_change["event_id"]
    core = fleet["controllers"]["columns"][0]
    assert core["name"] == "core" and core["outliers"] == 0
    assert fleet["observed_until"].startswith("2026-11-20T03:30:00")


def test_a_rolled_back_value_points_at_the_rollback(app, client, auth):
    with connected(app):
        for name in ("a1", "a2", "a3"):
            observe_agent(name, "/opt/jdk-17.0.9")
        observe_agent("a3", "/opt/jdk-17.0.10", minutes=1)
        observe_agent("a3", "/opt/jdk-17.0.9", minutes=2)
        latest = observe_agent("a3", "/opt/jdk-17.0.10", minutes=3)
    fleet = client.get("/api/v1/fleet", headers=auth.headers()).json
    [outlier] = fleet["outliers"]
    assert outlier["event"]["id"] == latest["event_id"]


def test_empty_fleet(client, auth):
    fleet = client.get("/api/v1/fleet", headers=auth.headers(role="viewer", scope="read")).json
    assert fleet == {"observed_until": None, "agents": {"columns": [], "rows": []},
                     "controllers": {"columns": [], "rows": []}, "outliers": []}


def test_ties_go_to_the_newest_version(app, client, auth):
    with connected(app):
        observe_agent("a1", "/opt/jdk-17.0.9")
        observe_agent("a2", "/opt/jdk-17.0.10")
    fleet = client.get("/api/v1/fleet", headers=auth.headers()).json
    assert fleet["agents"]["columns"][0]["majority"] == "17.0.10"


def test_the_matrices_are_rebuilt_when_a_snapshot_changes_not_when_a_poll_finds_nothing_new(app, client, auth,
                                                                                           monkeypatch):
    from app.polling import fleet

    builds = []
    build = fleet._agent_rows
    monkeypatch.setattr(fleet, "_agent_rows", lambda: builds.append(1) or build())
    headers = auth.headers(role="viewer", scope="read")
    with connected(app):
        for name in ("a1", "a2", "a3"):
            observe_agent(name, "/opt/jdk-17.0.9")
    first = client.get("/api/v1/fleet", headers=headers).json
    assert client.get("/api/v1/fleet", headers=headers).json == first and len(builds) == 1
    with connected(app):
        observe_agent("a1", "/opt/jdk-17.0.9", minutes=60)  # the same content, an hour later
    later = client.get("/api/v1/fleet", headers=headers).json
    assert len(builds) == 1  # nothing to rebuild, and yet the time is the new one
    assert later["observed_until"].startswith("2026-11-20T04:00:00")
    assert next(r for r in later["agents"]["rows"] if r["name"] == "a1")["observed_at"].startswith("2026-11-20T04:00")
    with connected(app):
        observe_agent("a2", "/opt/jdk-21.0.2", minutes=61)
    changed = client.get("/api/v1/fleet", headers=headers).json
    assert len(builds) == 2 and [o["row"] for o in changed["outliers"]] == ["a2"]
