"""Comments through /api/v1/events/<id>/comments: editors write, everyone logged in reads, each is audited."""
import pytest

from app.models import AuditEntry, Comment, User
from tests.conftest import connected


@pytest.fixture
def editor(auth):
    return auth.headers(role="editor", scope="write")


@pytest.fixture
def event_id(client, editor):
    return client.post("/api/v1/events", json={"title": "JDK 17 on linux-07"}, headers=editor).json["id"]


def comments_url(event_id):
    return "/api/v1/events/%d/comments" % event_id


def test_editor_comments_and_viewer_reads_them_oldest_first(client, auth, editor, event_id, app):
    first = client.post(comments_url(event_id), json={"body": "Rolled back at 10:02."}, headers=editor)
    assert first.status_code == 201
    assert first.json["author"] == "editor (token test)" and first.json["event_id"] == event_id
    assert first.json["body"] == "Rolled back at 10:02." and first.json["created_at"].endswith("+00:00")
    client.post(comments_url(event_id), json={"body": "  second\nline  "}, headers=editor)

    listed = client.get(comments_url(event_id), headers=auth.headers("viewer", "read"))
    assert listed.status_code == 200
    assert [c["body"] for c in listed.json["items"]] == ["Rolled back at 10:02.", "second\nline"]

    with connected(app):
        entries = list(AuditEntry.select().where(AuditEntry.entity_type == "comment").order_by(AuditEntry.id))
        assert [(e.action, e.entity_id) for e in entries] == [("create", str(first.json["id"])), ("create", str(first.json["id"] + 1))]
        assert entries[0].after == {"event_id": event_id, "author": "editor (token test)", "body": "Rolled back at 10:02."}
        assert entries[0].user_id == User.get(User.username == "editor").id


def test_a_logged_in_editor_is_the_author(client, auth, event_id):
    auth.login("carol", role="editor")
    token = auth.csrf_token("/")
    response = client.post(comments_url(event_id), json={"body": "hi"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201 and response.json["author"] == "carol"


@pytest.mark.parametrize("body, field, message", [
    ({"body": ""}, "body", "between 1 and 5000"),
    ({"body": "   \n "}, "body", "blank"),
    ({"body": "x" * 5001}, "body", "between 1 and 5000"),
    ({"body": 42}, "body", "Not a valid string"),
    ({"body": None}, "body", "may not be null"),
    ({"body": "nul\x00"}, "body", "NUL"),
    ({}, "body", "required"),
    ({"body": "ok", "author": "someone else"}, "author", "Unknown field"),
])
def test_bad_comments_are_422_and_write_nothing(client, editor, event_id, app, body, field, message):
    response = client.post(comments_url(event_id), json=body, headers=editor)
    assert response.status_code == 422
    assert message in " ".join(response.json["errors"][field])
    with connected(app):
        assert Comment.select().count() == 0
        assert AuditEntry.select().where(AuditEntry.entity_type == "comment").count() == 0


def test_the_longest_comment_is_accepted(client, editor, event_id):
    assert client.post(comments_url(event_id), json={"body": "x" * 5000}, headers=editor).status_code == 201


def test_comments_on_a_missing_event_are_404(client, editor):
    assert client.get(comments_url(999), headers=editor).status_code == 404
    response = client.post(comments_url(999), json={"body": "hello"}, headers=editor)
    assert response.status_code == 404 and "999" in response.json["message"]


def test_not_a_json_object_is_400(client, editor, event_id):
    response = client.post(comments_url(event_id), data="hello", headers={**editor, "Content-Type": "text/plain"})
    assert response.status_code == 400


@pytest.mark.parametrize("headers_for, get_status, post_status", [
    (None, 401, 401),
    (("viewer", "read"), 200, 403),
    (("editor", "read"), 200, 403),
    (("editor", "write"), 200, 201),
    (("admin", "admin"), 200, 201),
])
def test_viewers_read_editors_write(client, auth, event_id, headers_for, get_status, post_status):
    headers = auth.headers(*headers_for) if headers_for else {}
    assert client.get(comments_url(event_id), headers=headers).status_code == get_status
    assert client.post(comments_url(event_id), json={"body": "x"}, headers=headers).status_code == post_status


def test_comments_go_with_their_event_and_outlive_their_author(client, auth, editor, event_id, app):
    client.post(comments_url(event_id), json={"body": "kept"}, headers=editor)
    with connected(app):
        User.delete().where(User.username == "editor").execute()
        comment = Comment.get()
        assert comment.user_id is None and comment.author == "editor (token test)"
    admin = auth.headers("admin", "admin")
    assert client.get(comments_url(event_id), headers=admin).json["items"][0]["body"] == "kept"
    assert client.delete("/api/v1/events/%d" % event_id, headers=admin).status_code == 204
    with connected(app):
        assert Comment.select().count() == 0
