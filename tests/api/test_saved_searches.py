"""Saved searches through /api/v1/saved-searches: your own plus shared ones; owners (and admins) change them."""
import pytest

from app.models import AuditEntry, SavedSearch, User
from tests.conftest import connected

URL = "/api/v1/saved-searches"


@pytest.fixture
def alice(auth):
    return {"Authorization": "Bearer " + auth.token(role="viewer", scope="read", username="alice")}


@pytest.fixture
def bob(auth):
    return {"Authorization": "Bearer " + auth.token(role="viewer", scope="read", username="bob")}


@pytest.fixture
def admin(auth):
    return auth.headers("admin", "admin")


def save(client, headers, name, query="agent=linux-07", shared=False):
    response = client.post(URL, json={"name": name, "query": query, "shared": shared}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def audit_trail(app):
    with connected(app):
        return [(e.action, e.before, e.after) for e in
                AuditEntry.select().where(AuditEntry.entity_type == "saved_search").order_by(AuditEntry.id)]


def test_a_viewer_saves_a_search_and_it_runs(client, alice, app):
    created = client.post(URL, json={"name": "JDK on linux", "query": "?agent=linux-07&type=tool_update&type=note"},
                          headers=alice)
    assert created.status_code == 201
    search = created.json
    assert search["query"] == "agent=linux-07&type=tool_update&type=note"
    assert search["owner"] == "alice" and search["shared"] is False
    assert client.get("/api/v1/events?" + search["query"], headers=alice).status_code == 200
    assert client.get("%s/%d" % (URL, search["id"]), headers=alice).json == search
    (action, before, after), = audit_trail(app)
    assert action == "create" and before is None and after["name"] == "JDK on linux"


def test_the_list_holds_your_own_then_those_others_share(client, alice, bob, admin):
    save(client, alice, "zeta")
    save(client, alice, "Alpha", shared=True)
    save(client, bob, "bob private")
    save(client, bob, "bob shared", shared=True)
    save(client, admin, "admin private")

    def names(headers):
        return [(s["owner"], s["name"]) for s in client.get(URL, headers=headers).json["items"]]

    assert names(alice) == [("alice", "Alpha"), ("alice", "zeta"), ("bob", "bob shared")]
    assert names(bob) == [("bob", "bob private"), ("bob", "bob shared"), ("alice", "Alpha")]


@pytest.mark.parametrize("body, field, message", [
    ({"query": "agent=x"}, "name", "required"),
    ({"name": "", "query": ""}, "name", "between 1 and 100"),
    ({"name": "   "}, "name", "blank"),
    ({"name": "x" * 101}, "name", "between 1 and 100"),
    ({"name": "n", "query": "colour=blue"}, "query", "Unknown filter 'colour'"),
    ({"name": "n", "query": "type=nope"}, "query", "type: Must be one of"),
    ({"name": "n", "query": "severity=low&severity=loud"}, "query", "severity: Must be one of"),
    ({"name": "n", "query": "from=yesterday"}, "query", "from: Not a valid ISO 8601"),
    ({"name": "n", "query": "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"}, "query", "from: Must not be after"),
    ({"name": "n", "query": "limit=100000"}, "query", "limit:"),
    ({"name": "n", "query": "cursor=abc"}, "query", "Unknown filter 'cursor'"),
    ({"name": "n", "query": "agent=%00"}, "query", "NUL"),
    ({"name": "n", "query": "x" * 4001}, "query", "Longer than maximum"),
    ({"name": "n", "shared": "sometimes"}, "shared", "Not a valid boolean"),
    ({"name": "n", "owner": "bob"}, "owner", "Unknown field"),
])
def test_bad_saved_searches_are_422_and_write_nothing(client, alice, app, body, field, message):
    response = client.post(URL, json=body, headers=alice)
    assert response.status_code == 422
    assert message in " ".join(response.json["errors"][field])
    with connected(app):
        assert SavedSearch.select().count() == 0
    assert audit_trail(app) == []


def test_an_empty_query_saves_everything(client, alice):
    assert save(client, alice, "all", query="")["query"] == ""


def test_names_are_unique_per_user(client, alice, bob):
    save(client, alice, "mine")
    again = client.post(URL, json={"name": "mine"}, headers=alice)
    assert again.status_code == 409 and again.json["errors"] == {"name": ["Already taken."]}
    save(client, bob, "mine")
    other = save(client, alice, "other")
    renamed = client.patch("%s/%d" % (URL, other["id"]), json={"name": "mine"}, headers=alice)
    assert renamed.status_code == 409


def test_owner_edits_and_deletes_with_audit(client, alice, app):
    search = save(client, alice, "mine")
    changed = client.patch("%s/%d" % (URL, search["id"]), json={"query": "tag=jdk", "shared": True}, headers=alice)
    assert changed.status_code == 200
    assert (changed.json["query"], changed.json["shared"], changed.json["name"]) == ("tag=jdk", True, "mine")
    bad = client.patch("%s/%d" % (URL, search["id"]), json={"query": "sort=sideways"}, headers=alice)
    assert bad.status_code == 422 and "sort:" in bad.json["errors"]["query"][0]

    assert client.delete("%s/%d" % (URL, search["id"]), headers=alice).status_code == 204
    assert client.get("%s/%d" % (URL, search["id"]), headers=alice).status_code == 404
    trail = audit_trail(app)
    assert [a for a, _, _ in trail] == ["create", "update", "delete"]
    assert trail[1][1:] == ({"query": "agent=linux-07", "shared": False}, {"query": "tag=jdk", "shared": True})
    assert trail[2][1]["query"] == "tag=jdk" and trail[2][2] is None


def test_others_may_not_change_yours_but_admins_may(client, alice, bob, admin, app):
    private = save(client, alice, "private")
    shared = save(client, alice, "shared", shared=True)

    assert client.get("%s/%d" % (URL, private["id"]), headers=bob).status_code == 404
    assert client.get("%s/%d" % (URL, shared["id"]), headers=bob).status_code == 200
    assert client.patch("%s/%d" % (URL, private["id"]), json={"name": "x"}, headers=bob).status_code == 404
    refused = client.patch("%s/%d" % (URL, shared["id"]), json={"name": "x"}, headers=bob)
    assert refused.status_code == 403 and "owner" in refused.json["message"]
    assert client.delete("%s/%d" % (URL, shared["id"]), headers=bob).status_code == 403
    assert client.delete("%s/%d" % (URL, private["id"]), headers=bob).status_code == 404

    assert client.get("%s/%d" % (URL, private["id"]), headers=admin).status_code == 200
    changed = client.patch("%s/%d" % (URL, private["id"]), json={"name": "tidied"}, headers=admin)
    assert changed.status_code == 200 and changed.json["owner"] == "alice"
    assert client.delete("%s/%d" % (URL, shared["id"]), headers=admin).status_code == 204
    with connected(app):
        assert [s.name for s in SavedSearch.select()] == ["tidied"]
        actors = [e.actor for e in AuditEntry.select().where(AuditEntry.entity_type == "saved_search").order_by(AuditEntry.id)]
    assert actors[-2:] == ["admin (token test)", "admin (token test)"]


def test_missing_searches_are_404(client, alice):
    assert client.get("%s/999" % URL, headers=alice).status_code == 404
    assert client.patch("%s/999" % URL, json={"name": "x"}, headers=alice).status_code == 404
    assert client.delete("%s/999" % URL, headers=alice).status_code == 404


def test_anonymous_callers_are_refused_and_any_role_may_save(client, auth):
    assert client.get(URL).status_code == 401
    assert client.post(URL, json={"name": "x"}).status_code == 401
    for role, scope in (("viewer", "read"), ("editor", "read"), ("editor", "write"), ("admin", "admin")):
        headers = {"Authorization": "Bearer " + auth.token(role=role, scope=scope, username="%s-%s" % (role, scope))}
        assert client.post(URL, json={"name": "mine"}, headers=headers).status_code == 201


def test_searches_go_with_their_owner(client, alice, app):
    save(client, alice, "mine")
    with connected(app):
        User.delete().where(User.username == "alice").execute()
        assert SavedSearch.select().count() == 0
