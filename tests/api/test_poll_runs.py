"""POST /api/v1/poll-runs: a pushed poll run is stored, audited and shown like a local one; write scope; 422s."""
from datetime import datetime, timedelta, timezone

import pytest

from app.models import AuditEntry, PollRun
from tests.conftest import connected

URL = "/api/v1/poll-runs"
MISSING = object()


def iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def a_run(**changes):
    finished = datetime.now(timezone.utc).replace(microsecond=0)
    run = {"poller": "jenkins", "status": "partial", "started_at": iso(finished - timedelta(seconds=42)),
           "finished_at": iso(finished), "observed": 11, "changed": 1, "events": 2,
           "errors": [{"target": "ci/linux-07", "message": "HTTPError: 500 Server Error"}]}
    run.update(changes)
    return {name: value for name, value in run.items() if value is not MISSING}


def test_a_pushed_run_is_stored_audited_and_shown_on_readyz_and_the_admin_page(app, client, auth):
    run = a_run()
    response = client.post(URL, json=run, headers=auth.headers(role="editor", scope="write"))
    assert response.status_code == 201, response.json
    body = response.json
    assert {k: body[k] for k in ("poller", "status", "observed", "changed", "events", "errors")} == {
        k: run[k] for k in ("poller", "status", "observed", "changed", "events", "errors")}
    assert body["started_at"].startswith(run["started_at"][:19]) and body["finished_at"].startswith(run["finished_at"][:19])
    with connected(app):
        stored = PollRun.get_by_id(body["id"])
        assert (stored.poller, stored.status, stored.observed) == ("jenkins", "partial", 11)
        [entry] = AuditEntry.select().where(AuditEntry.entity_type == "poll_run")
        assert (entry.action, entry.entity_id, entry.actor) == ("create", str(body["id"]), "editor (token test)")
        assert entry.after["status"] == "partial" and entry.after["errors"] == 1

    ready = client.get("/readyz").json
    assert [(r["poller"], r["status"], r["errors"]) for r in ready["poll_runs"]] == [("jenkins", "partial", 1)]
    auth.login("boss", role="admin")
    page = client.get("/admin/inbox").get_data(as_text=True)
    assert "HTTPError: 500 Server Error" in page and 'class="poll-run-partial">partial<' in page


def test_reporting_the_same_run_again_returns_the_stored_one(app, client, auth):
    headers = auth.headers()
    run = a_run(status="ok", errors=[])
    first = client.post(URL, json=run, headers=headers)
    again = client.post(URL, json=run, headers=headers)  # a retried POST whose answer was lost
    assert (first.status_code, again.status_code) == (201, 200) and again.json == first.json
    later = client.post(URL, json=a_run(started_at=iso(datetime.now(timezone.utc) - timedelta(seconds=5))),
                        headers=headers)
    assert later.status_code == 201 and later.json["id"] != first.json["id"]
    with connected(app):
        assert PollRun.select().count() == 2


@pytest.mark.parametrize("role, scope, status", [("viewer", "read", 403), ("editor", "read", 403)])
def test_reporting_needs_the_write_scope(app, client, auth, role, scope, status):
    assert client.post(URL, json=a_run(), headers=auth.headers(role=role, scope=scope)).status_code == status
    assert client.post(URL, json=a_run()).status_code == 401
    with connected(app):
        assert PollRun.select().count() == 0


@pytest.mark.parametrize("changes, field, message", [
    ({"poller": MISSING}, "poller", "Missing data for required field."),
    ({"poller": None}, "poller", "Field may not be null."),
    ({"poller": "ftp"}, "poller", "Must be one of: jenkins, registry, packages."),
    ({"status": "running"}, "status", "Must be one of: ok, partial, failed."),
    ({"status": "abandoned"}, "status", "Must be one of: ok, partial, failed."),
    ({"started_at": "2026-11-20T03:00:00"}, "started_at", "Must include a UTC offset"),
    ({"finished_at": "yesterday"}, "finished_at", "Not a valid ISO 8601 datetime."),
    ({"started_at": "2026-01-01T03:00:30Z", "finished_at": "2026-01-01T03:00:00Z"}, "finished_at",
     "Must not be before started_at."),
    ({"finished_at": "2999-01-01T00:00:00Z"}, "finished_at", "Must not be in the future"),
    ({"observed": -1}, "observed", "greater than or equal to 0"),
    ({"events": "2"}, "events", "Not a valid integer."),
    ({"errors": ["just a string"]}, "errors.0._schema", "Invalid input type."),
    ({"errors": [{"target": "x"}]}, "errors.0.message", "Missing data for required field."),
    ({"errors": [{"target": "x", "message": "m"}] * 201}, "errors", "Longer than maximum length 200."),
    ({"host": "agent-1"}, "host", "Unknown field."),
])
def test_invalid_runs_are_422_with_field_messages_and_nothing_is_stored(app, client, auth, changes, field, message):
    response = client.post(URL, json=a_run(**changes), headers=auth.headers())
    assert response.status_code == 422, response.json
    assert message in " ".join(response.json["errors"][field]), response.json["errors"]
    with connected(app):
        assert PollRun.select().count() == 0 and not AuditEntry.select().where(AuditEntry.entity_type == "poll_run").exists()
