"""/admin/sources and /admin/inbox, and the ingestion part of /readyz."""
import json
import re

from app.db import utcnow
from app.ingest import inbox
from app.models import PollRun, WebhookSource
from tests.conftest import connected
from tests.webhook_support import deliver, make_source


def form(auth, **values):
    return {"csrf_token": auth.csrf_token("/admin/sources"), **values}


def test_admin_adds_edits_and_deletes_a_source_and_sees_its_url(app, client, auth):
    auth.login("boss", role="admin")
    page = client.get("/admin/sources").get_data(as_text=True)
    assert "No sources yet" in page and 'name="secret"' in page
    mapping = json.dumps({"repositories": ["library/*"]})
    created = client.post("/admin/sources", data=form(auth, name="hub", kind="registry", secret="z" * 24,
                                                      mapping=mapping, active="on"))
    assert created.status_code == 302
    page = client.get("/admin/sources").get_data(as_text=True)
    assert "http://localhost/hooks/registry/hub" in page and "z" * 24 not in page
    edit = client.get("/admin/sources/hub").get_data(as_text=True)
    assert "Authorization" in edit and "library/*" in edit and "z" * 24 not in edit
    bad = client.post("/admin/sources/hub", data=form(auth, name="hub", mapping="{oops", active="on"))
    assert bad.status_code == 422 and "Not valid JSON" in bad.get_data(as_text=True)
    saved = client.post("/admin/sources/hub", data=form(auth, name="hub", mapping='{"repositories": ["x/*"]}'))
    assert saved.status_code == 302
    with connected(app):
        row = WebhookSource.get(WebhookSource.name == "hub")
        assert row.mapping["repositories"] == ["x/*"] and row.active is False
    assert client.post("/admin/sources/hub/delete", data=form(auth)).status_code == 302
    with connected(app):
        assert not WebhookSource.select().exists()


def test_invalid_source_form_shows_field_messages(client, auth):
    auth.login("boss", role="admin")
    response = client.post("/admin/sources", data=form(auth, name="x", kind="jenkins", secret="short", mapping="[]"))
    assert response.status_code == 422 and "Must be a JSON object" in response.get_data(as_text=True)
    response = client.post("/admin/sources", data=form(auth, name="x", kind="jenkins", secret="short", mapping="{}"))
    assert response.status_code == 422 and "between 16 and 500" in response.get_data(as_text=True)


def test_inbox_page_lists_dead_letters_with_reasons_replays_them_and_shows_poll_runs(app, client, auth):
    make_source(app, "gen", "generic", mapping={"fields": {"title": "what"}})
    item_id = deliver(client, "generic", "gen", b'{"other": 1}').json["id"]
    with connected(app):
        inbox.drain("w", inbox.Settings())
        PollRun.create(poller="jenkins", started_at=utcnow(), finished_at=utcnow(), status="ok", observed=12,
                       changed=1, events=1, errors=["linux-09: HTTP 500"])
    auth.login("boss", role="admin")
    page = client.get("/admin/inbox").get_data(as_text=True)
    assert 'dead: <strong class="count">1</strong>' in page and "No title" in page and "Replay" in page
    assert "&#34;other&#34;: 1" in page  # the body, to see why it died
    assert "linux-09: HTTP 500" in page and "jenkins" in page
    replay = client.post("/admin/inbox/%d/replay" % item_id, data=form(auth, state="dead"))
    assert replay.status_code == 302
    assert 'pending: <strong class="count">1</strong>' in client.get("/admin/inbox").get_data(as_text=True)
    again = client.post("/admin/inbox/%d/replay" % item_id, data=form(auth), follow_redirects=True)
    assert "only dead or ignored" in again.get_data(as_text=True)


def test_ingestion_pages_are_admin_only(client, auth):
    auth.login("ed", role="editor")
    assert client.get("/admin/sources").status_code == 403
    assert client.get("/admin/inbox").status_code == 403


def test_readyz_reports_the_backlog_and_last_poll_runs_without_failing_on_them(app, client):
    make_source(app, "ci", "jenkins")
    deliver(client, "jenkins", "ci", b'{"build": {"phase": "STARTED"}}')
    with connected(app):
        PollRun.create(poller="registry", status="error", errors=["timeout"])
    body = client.get("/readyz")
    assert body.status_code == 200
    assert body.json["inbox"]["pending"] == 1 and body.json["inbox"]["oldest_pending_age_seconds"] >= 0
    assert body.json["poll_runs"][0]["poller"] == "registry" and body.json["poll_runs"][0]["errors"] == 1


def test_inbox_pages_through_older_items_and_filters_by_source(app, client, auth):
    make_source(app, "gen", "generic", mapping={"fields": {"title": "what"}})
    make_source(app, "other", "generic", mapping={"fields": {"title": "what"}})
    ids = [deliver(client, "generic", "gen", b'{"n": %d}' % i).json["id"] for i in range(55)]
    deliver(client, "generic", "other", b'{"n": 99}')
    with connected(app):
        inbox.drain("w", inbox.Settings())
    auth.login("boss", role="admin")
    first = client.get("/admin/inbox?state=dead&source=gen").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'<tr data-item="(\d+)">', first)]
    assert shown == sorted(ids, reverse=True)[:50]
    older = re.search(r'<a href="([^"]+)" rel="next">Older items', first).group(1).replace("&amp;", "&")
    rest = [int(i) for i in re.findall(r'<tr data-item="(\d+)">', client.get(older).get_data(as_text=True))]
    assert rest == sorted(ids, reverse=True)[50:]
    assert "source=gen" in older
