"""Nothing lost while a big import runs: a 50,000-row CSV import through the real service under gunicorn, with
API writers and signed webhook deliveries going on all the while. The import is all-or-nothing and holds the
write lock only to write, so every other request is answered without a 5xx and everything accepted is stored."""
import csv
import http.client
import io
import json
import os
import sys
import threading

from app.models import Event, InboxItem
from tests.conftest import connected, free_port, server_process
from tests.webhook_support import fixture_bytes, make_source, signature

VENV_BIN = os.path.dirname(sys.executable)
ROWS = 50_000


def import_file(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["title", "type", "occurred_at", "agents", "tools", "tags", "metadata"])
    for n in range(rows):
        writer.writerow(["Imported change %d" % n, "tool_update", "2025-%02d-%02dT10:00:00Z" % (n % 12 + 1, n % 28 + 1),
                         "linux-%03d;linux-%03d" % (n % 300, (n * 7) % 300), "jdk-%d" % (17 + n % 3), "history",
                         json.dumps({"ticket": "CHG-%d" % n})])
    return out.getvalue().encode()


def test_writers_and_webhooks_beside_a_big_import_are_all_answered_and_stored(tmp_path, database_url, app, auth):
    token = auth.token("editor", "write")
    make_source(app, "ci", "jenkins")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CHANGETRACKER_DATABASE_URL": database_url,
           "CHANGETRACKER_SECRET_KEY": app.config["SECRET_KEY"],
           "CHANGETRACKER_INSTANCE_PATH": str(tmp_path / "instance")}
    command = [os.path.join(VENV_BIN, "gunicorn"), "--bind", "127.0.0.1:%d" % port, "--workers", "2",
               "--threads", "4", "app:create_app()"]
    data = import_file(ROWS)
    delivery = fixture_bytes("notification-plugin-completed.json")
    bearer = {"Authorization": "Bearer " + token}
    answers, events, inbox, imported = [], [], [], {}
    done = threading.Event()

    def post(path, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def run_import():
        try:
            imported["status"], imported["body"] = post("/api/v1/events/import", data,
                                                        dict(bearer, **{"Content-Type": "text/csv"}))
        finally:
            done.set()

    def writer(number):
        sent = 0
        while not done.is_set():
            sent += 1
            status, body = post("/api/v1/events", json.dumps({"title": "Beside the import %d.%d" % (number, sent),
                                                              "agents": ["linux-%03d" % number]}),
                                dict(bearer, **{"Content-Type": "application/json"}))
            answers.append(("event", status))
            if status == 201:
                events.append(json.loads(body)["id"])

    def sender():
        while not done.is_set():
            status, body = post("/hooks/jenkins/ci", delivery, {"Content-Type": "application/json",
                                                                 "X-Hub-Signature-256": signature(delivery)})
            answers.append(("webhook", status))
            if status == 202:
                inbox.append(json.loads(body)["id"])

    with server_process(command, env, tmp_path, "http://127.0.0.1:%d/healthz" % port):
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        run_import()
        for thread in threads:
            thread.join(120)
    assert imported["status"] == 200, imported["body"][:2000]
    assert json.loads(imported["body"]) == {"created": ROWS, "errors": []}
    assert [answer for answer in answers if answer[1] >= 500] == []
    assert events and inbox  # both kept going during the import
    with connected(app):
        assert Event.select().where(Event.id.in_(events)).count() == len(events)
        assert InboxItem.select().where(InboxItem.id.in_(inbox)).count() == len(inbox)
        assert Event.select().count() == ROWS + len(events)
