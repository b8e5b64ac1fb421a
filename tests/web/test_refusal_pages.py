"""Refusals (Conflict → 409, Forbidden → 403) are answered app-wide: an error page in the browser, the JSON error
shape on the API — never a 500.

Every page today catches the refusals it expects; these tests make the domain refuse where a page does not expect
it (a source deleted while the domain objects, a token revocation refused), which is what a new rule in the domain
does to a page written before it.
"""
import re

import pytest

from app.accounts import tokens
from app.ingest import sources
from app.ledger import catalogue
from app.errors import Conflict, Forbidden


def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def _refuse(exc):
    def refuse(*args, **kwargs):
        raise exc
    return refuse


@pytest.fixture
def admin(auth):
    auth.login("boss", role="admin")
    return auth


def test_a_conflict_on_a_page_is_a_409_page(app, client, admin, monkeypatch):
    monkeypatch.setattr(sources, "delete_source", _refuse(Conflict("Source 'hub' still has items waiting in the inbox.",
                                                                   {"inbox": ["3 items are pending."]})))
    response = client.post("/admin/sources/hub/delete", data={"csrf_token": csrf(client, "/admin/sources")})
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "still has items waiting in the inbox" in page and "3 items are pending." in page
    assert "Internal error" not in page


def test_a_forbidden_action_on_a_page_is_a_403_page(app, client, admin, monkeypatch):
    monkeypatch.setattr(tokens, "revoke_token", _refuse(Forbidden("Only its owner may revoke this token.")))
    response = client.post("/account/tokens/7/revoke", data={"csrf_token": csrf(client, "/account/tokens")})
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "Only its owner may revoke this token." in response.get_data(as_text=True)


def test_a_refusal_on_a_page_read_is_answered_too(app, client, admin, monkeypatch):
    monkeypatch.setattr(catalogue, "get_item", _refuse(Conflict("The agent is being renamed.")))
    response = client.get("/agents/linux-07")
    assert (response.status_code, response.mimetype) == (409, "text/html")
    assert "The agent is being renamed." in response.get_data(as_text=True)


def test_the_api_keeps_its_json_error_shape(client, auth):
    editor = auth.headers(role="editor", scope="write")
    assert client.post("/api/v1/tools", json={"name": "jdk"}, headers=editor).status_code == 201
    taken = client.post("/api/v1/tools", json={"name": "jdk"}, headers=editor)
    assert taken.status_code == 409
    assert taken.json == {"code": 409, "message": "A tool named 'jdk' already exists.",
                          "errors": {"name": ["Already taken."]}}

    shared = client.post("/api/v1/saved-searches", json={"name": "mine", "query": "type=note", "shared": True},
                         headers=editor).json
    other = auth.headers(role="viewer", scope="read")
    refused = client.patch("/api/v1/saved-searches/%d" % shared["id"], json={"name": "theirs"}, headers=other)
    assert refused.status_code == 403
    assert set(refused.json) == {"code", "message", "errors"} and refused.json["code"] == 403
    assert "owner" in refused.json["message"]
