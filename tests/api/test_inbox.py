"""/api/v1/inbox: listing items with their reasons, one item with its body, and replay (admin)."""
from app.ingest import inbox
from tests.conftest import connected
from tests.webhook_support import deliver, make_source


def test_list_show_and_replay_a_dead_letter(app, client, auth):
    admin = auth.headers(role="admin", scope="admin")
    make_source(app, "gen", "generic", mapping={"fields": {"title": "what"}})
    item_id = deliver(client, "generic", "gen", b'{"nothing": true}').json["id"]
    with connected(app):
        inbox.drain("w", inbox.Settings())
    listed = client.get("/api/v1/inbox?state=dead", headers=admin).json["items"]
    assert [(i["id"], i["state"]) for i in listed] == [(item_id, "dead")]
    assert "No title" in listed[0]["last_error"] and "body" not in listed[0]
    one = client.get("/api/v1/inbox/%d" % item_id, headers=admin).json
    assert one["body"] == '{"nothing": true}' and one["headers"]["x-authenticated-by"] == "hmac"
    replayed = client.post("/api/v1/inbox/%d/replay" % item_id, headers=admin)
    assert replayed.status_code == 200 and replayed.json["state"] == "pending"
    again = client.post("/api/v1/inbox/%d/replay" % item_id, headers=admin)
    assert again.status_code == 409 and "only dead or ignored" in again.json["message"]
    assert client.post("/api/v1/inbox/999/replay", headers=admin).status_code == 404
    assert client.get("/api/v1/inbox?state=nope", headers=admin).status_code == 422
    assert client.get("/api/v1/inbox?source=gen&limit=1", headers=admin).json["items"][0]["id"] == item_id


def test_inbox_is_admin_only(client, auth):
    assert client.get("/api/v1/inbox", headers=auth.headers(role="editor", scope="write")).status_code == 403
    assert client.post("/api/v1/inbox/1/replay", headers=auth.headers(role="editor", scope="write")).status_code == 403
