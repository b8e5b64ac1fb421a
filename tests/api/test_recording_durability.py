"""An acknowledged event is durable: gunicorn (2 workers x 4 threads, as `changetracker serve` runs it) killed
with SIGKILL, master and workers at once, while 8 clients record events; every event answered 201 is stored,
with its links and its audit entry."""
import http.client
import json
import os
import signal
import sys
import threading
import time

from app.models import AuditEntry, Event, EventAgent
from tests.conftest import connected, free_port, server_process

VENV_BIN = os.path.dirname(sys.executable)


def test_every_event_answered_201_survives_kill_9(tmp_path, database_url, app, auth):
    token = auth.token("editor", "write")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CHANGETRACKER_DATABASE_URL": database_url,
           "CHANGETRACKER_SECRET_KEY": "s" * 64, "CHANGETRACKER_INSTANCE_PATH": str(tmp_path / "instance")}
    command = [os.path.join(VENV_BIN, "gunicorn"), "--bind", "127.0.0.1:%d" % port, "--workers", "2",
               "--threads", "4", "app:create_app()"]
    acknowledged, stop = [], threading.Event()

    def client(number):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sent = 0
        try:
            while not stop.is_set():
                sent += 1
                body = {"title": "Change %d.%d" % (number, sent), "agents": ["linux-%02d" % number, "shared"],
                        "tags": ["kill-test"]}
                conn.request("POST", "/api/v1/events", body=json.dumps(body),
                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
                if response.status == 201:
                    acknowledged.append(json.loads(answer)["id"])
        except (OSError, http.client.HTTPException):  # the server is gone
            pass
        finally:
            conn.close()

    with server_process(command, env, tmp_path, "http://127.0.0.1:%d/healthz" % port) as served:
        clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(served.process.pid, signal.SIGKILL)  # mid-burst: requests in flight, batches half-written
        stop.set()
        for thread in clients:
            thread.join(30)
    assert len(acknowledged) >= 300
    with connected(app):
        stored = {event.id: event for event in Event.select().where(Event.id.in_(acknowledged))}
        assert sorted(stored) == sorted(acknowledged)
        linked = EventAgent.select().where(EventAgent.event.in_(acknowledged)).count()
        audited = AuditEntry.select().where((AuditEntry.entity_type == "event") & (AuditEntry.action == "create")
                                            & AuditEntry.entity_id.in_([str(i) for i in acknowledged])).count()
    assert linked == 2 * len(acknowledged) and audited == len(acknowledged)
