"""How the suspects' candidates are found: the fleet-wide flag the database keeps, and the lazy ranking of the
changes that name no agent, which must give the list scoring every candidate gives."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from app.accounts.audit import Actor
from app.correlation import evidence, suspects
from app.ledger.events import record_event
from app.models import Event
from tests.conftest import connected


def flags(app):
    with connected(app):
        return dict(Event.select(Event.title, Event.fleet_wide).tuples())


def test_the_fleet_wide_flag_follows_the_links_whatever_writes_them(app, client, auth):
    headers = auth.headers("admin", "admin")
    for payload in ({"title": "core update"}, {"title": "relabel", "agents": ["linux-07", "linux-08"]}):
        assert client.post("/api/v1/events", json=payload, headers=headers).status_code == 201
    csv = "title,agents\nimported outage,\nimported on an agent,linux-09\n"
    assert client.post("/api/v1/events/import", data=csv,
                       headers=dict(headers, **{"Content-Type": "text/csv"})).status_code in (200, 201)
    assert flags(app) == {"core update": True, "relabel": False, "imported outage": True,
                          "imported on an agent": False}
    ids = {e["title"]: e["id"] for e in client.get("/api/v1/events", headers=headers).json["items"]}
    client.patch("/api/v1/events/%d" % ids["core update"], json={"agents": ["linux-07"]}, headers=headers)
    client.patch("/api/v1/events/%d" % ids["relabel"], json={"agents": []}, headers=headers)
    assert flags(app)["core update"] is False and flags(app)["relabel"] is True
    # Deleting an agent with ?force=true unlinks its events: the ones left with no agent are fleet-wide again.
    assert client.delete("/api/v1/agents/linux-09?force=true", headers=headers).status_code == 204
    assert flags(app)["imported on an agent"] is True


def ledger(app, rng, count=400):
    """A random week of changes on 6 agents, 8 tools and 2 toolchains, most naming no agent."""
    end = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    kinds = [k for k in evidence.KIND if k != "rollback"]
    with connected(app):
        for n in range(count):
            at = end - timedelta(hours=rng.uniform(0, 24 * 8))
            payload = {"title": "change %d" % n, "type": rng.choice(kinds),
                       "severity": rng.choice(list(evidence.SEVERITY)),
                       "source": rng.choice(["poller", "webhook", "pipeline", "manual"]), "occurred_at": at.isoformat(),
                       "agents": rng.sample(["a%d" % i for i in range(6)], rng.choice([0, 0, 0, 1, 2])),
                       "tools": rng.sample(["t%d" % i for i in range(8)], rng.choice([0, 1, 1, 2])),
                       "toolchains": rng.sample(["c0", "c1"], rng.choice([0, 0, 1]))}
            if payload["type"] in ("outage", "maintenance") and rng.random() < 0.5:
                payload["ended_at"] = (at + timedelta(hours=rng.uniform(0, 30))).isoformat()
            record_event(payload, Actor("t"))
    return end


@pytest.mark.parametrize("seed", [1, 2])
def test_the_lazy_ranking_gives_the_list_scoring_every_candidate_gives(app, monkeypatch, seed):
    rng = random.Random(seed)
    end = ledger(app, rng)
    queries = [{"agent": ["a%d" % rng.randrange(6)], "tool": rng.sample(["t0", "t1", "c1"], rng.randrange(3)),
                "before": (end - timedelta(hours=rng.uniform(0, 30))).isoformat(), "limit": rng.choice([3, 10, 50])}
               for _ in range(12)]

    def answers():
        with connected(app):
            return [[(i["event"]["id"], i["score"], i["reasons"]) for i in suspects.find_suspects(
                suspects.SuspectQuerySchema().load(query))["items"]] for query in queries]

    lazy = answers()
    monkeypatch.setattr(evidence, "bound", lambda before, boost=None: lambda key, at: float("inf"))
    assert answers() == lazy
    assert all(len(answer) == query["limit"] for answer, query in zip(lazy, queries))
