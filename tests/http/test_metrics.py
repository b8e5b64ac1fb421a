"""GET /metrics: Prometheus text for a read-scope token, the ledger's vital signs read from the database, and
the requests each route answered (webhooks included)."""
import os
import socket
import sys
import time
import urllib.request
from datetime import timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from app.db import utcnow
from app.models import InboxItem, PollRun
from app.ops import leases
from tests.conftest import connected, free_port, server_process
from tests.webhook_support import deliver, fixture_bytes, make_source


def scrape(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def parse(text):
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_need_a_read_token_or_a_session(client, auth):
    response = client.get("/metrics")
    assert response.status_code == 401 and response.json["code"] == 401
    assert client.get("/metrics", headers=auth.headers("viewer", "read")).status_code == 200


def test_vital_signs_come_from_the_database(app, client, auth):
    headers = auth.headers("viewer", "read")
    empty = scrape(client, headers)
    assert value(empty, "changetracker_events") == 0
    assert value(empty, "changetracker_inbox_items", state="pending") == 0
    assert value(empty, "changetracker_inbox_oldest_waiting_age_seconds") == 0
    assert value(empty, "changetracker_schedule_held") == 0
    assert [k for k in empty if k[0] == "changetracker_build_info"]

    writer = auth.headers("editor", "write")
    for n in range(3):
        assert client.post("/api/v1/events", json={"title": "change %d" % n, "occurred_at": "2026-11-20T10:00:00Z"},
                           headers=writer).status_code == 201
    make_source(app, "ci", "jenkins")
    assert deliver(client, "jenkins", "ci", fixture_bytes("notification-plugin-completed.json")).status_code == 202
    now = utcnow()
    with connected(app):
        InboxItem.update(received_at=now - timedelta(minutes=5)).execute()
        PollRun.create(poller="jenkins", started_at=now - timedelta(hours=2), status="ok", observed=40, events=1,
                       finished_at=now - timedelta(hours=2))
        newest = PollRun.create(poller="jenkins", started_at=now - timedelta(minutes=30), status="partial",
                                observed=41, events=2, errors=[{"target": "linux-07", "message": "HTTP 500"}],
                                finished_at=now - timedelta(minutes=29))
        PollRun.create(poller="registry", started_at=now - timedelta(hours=5), status="running")  # died: abandoned
        leases.hold(leases.SCHEDULER, "worker-1", 60)

    samples = scrape(client, headers)
    assert value(samples, "changetracker_events") == 3
    assert value(samples, "changetracker_inbox_items", state="pending") == 1
    assert 295 <= value(samples, "changetracker_inbox_oldest_waiting_age_seconds") <= 400
    assert value(samples, "changetracker_schedule_held") == 1
    assert value(samples, "changetracker_poll_run_last_status", poller="jenkins", status="partial") == 1
    assert value(samples, "changetracker_poll_run_last_status", poller="jenkins", status="ok") == 0
    assert value(samples, "changetracker_poll_run_last_status", poller="registry", status="abandoned") == 1
    assert value(samples, "changetracker_poll_run_last_observed", poller="jenkins") == 41
    assert value(samples, "changetracker_poll_run_last_events", poller="jenkins") == 2
    assert value(samples, "changetracker_poll_run_last_errors", poller="jenkins") == 1
    started = value(samples, "changetracker_poll_run_last_start_timestamp_seconds", poller="jenkins")
    assert abs(started - newest.started_at.replace(tzinfo=timezone.utc).timestamp()) < 1


def test_requests_are_counted_by_route_and_status_never_by_path(app, client, auth):
    headers = auth.headers("viewer", "read")
    before = scrape(client, headers)
    client.get("/api/v1/events/999999", headers=headers)  # 404
    client.get("/api/v1/events/999998", headers=headers)
    client.get("/no/such/page")
    for n in range(3):
        client.open("/no/such/page", method="BREW%d" % n)  # made-up methods make no series of their own
    make_source(app, "ci", "jenkins")
    deliver(client, "jenkins", "ci", fixture_bytes("notification-plugin-completed.json"))
    deliver(client, "jenkins", "ci", b"{}", how="none")  # 401: the receivers' own app is counted too
    after = scrape(client, headers)

    def grew(endpoint, status, method="GET"):
        key = dict(method=method, endpoint=endpoint, status=status)
        return (value(after, "changetracker_http_requests_total", **key) or 0) - (
            value(before, "changetracker_http_requests_total", **key) or 0)

    assert grew("api.events.get_event", "404") == 2
    assert grew("unmatched", "404") == 1 and grew("unmatched", "405", "other") + grew("unmatched", "404", "other") == 3
    assert not [k for k in after if "BREW" in str(k)]
    assert grew("hooks.receive", "202", "POST") == 1 and grew("hooks.receive", "401", "POST") == 1
    assert not [k for k in after if "999999" in str(k)]
    assert value(after, "changetracker_http_request_duration_seconds_count", endpoint="api.events.get_event") >= 2
    assert value(after, "changetracker_http_request_duration_seconds_count", endpoint="hooks.receive") is None


def test_changetracker_serve_sums_the_counts_of_every_gunicorn_process(tmp_path, database_url, app, auth):
    """`changetracker serve` runs prometheus_client's multiprocess mode: whichever worker answers a scrape,
    it reports the requests all of them answered."""
    port = free_port()
    token = auth.token("viewer", "read", username="prometheus")
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "prometheus").mkdir()
    (instance / "prometheus" / "counter_stale.db").write_bytes(b"from an earlier run")  # cleared at start
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CHANGETRACKER_DATABASE_URL": database_url,
           "CHANGETRACKER_SECRET_KEY": "s" * 64, "CHANGETRACKER_INSTANCE_PATH": str(instance)}
    command = [os.path.join(os.path.dirname(sys.executable), "changetracker"), "serve", "--bind",
               "127.0.0.1:%d" % port, "--workers", "2", "--threads", "1"]
    base = "http://127.0.0.1:%d" % port

    def get(path, headers=None):
        request = urllib.request.Request(base + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode()

    with server_process(command, env, tmp_path, base + "/healthz"):
        for _ in range(9):
            get("/healthz")
        # A request left half-sent keeps the worker that took it (sync, one thread) busy, so the other worker
        # answers the next ones; then it is finished. Both workers have answered /healthz.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as held:
            held.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            time.sleep(0.3)
            for _ in range(9):
                get("/healthz")
            held.sendall(b"Connection: close\r\n\r\n")
            assert b" 200 " in held.recv(4096)
        assert not (instance / "prometheus" / "counter_stale.db").exists()
        pids, totals = set(), set()
        for _ in range(6):
            samples = parse(get("/metrics", {"Authorization": "Bearer " + token}))
            totals.add(value(samples, "changetracker_http_requests_total",
                             method="GET", endpoint="health.healthz", status="200"))
            pids.update(p.name.rsplit("_", 1)[-1] for p in (instance / "prometheus").glob("counter_*.db"))
        assert len(pids) == 2  # both workers counted into the shared folder
        # Every scrape, whichever worker answered it, reports the same sum: our 19 requests and the start-up
        # probe's (more than one when a probe timed out on a loaded machine and was answered all the same).
        [total] = totals
        assert total >= 20
