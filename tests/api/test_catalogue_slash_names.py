"""Catalogue names with '/' (Docker images such as library/python): addressable with the '/' as is or as %2F, on the
API and on the agent page, and documented as such."""
from urllib.parse import quote

import pytest

KINDS = ["agents", "tools", "toolchains"]


@pytest.fixture
def editor(auth):
    return auth.headers(role="editor", scope="write")


def forms(name):
    """The two ways a client sends the name: '/' kept, or percent-encoded like everything else."""
    return [quote(name, safe="/"), quote(name, safe="")]


@pytest.mark.parametrize("encoded", [False, True], ids=["slash", "percent-2F"])
@pytest.mark.parametrize("kind", KINDS)
def test_get_patch_delete_by_a_name_with_slashes(client, editor, kind, encoded):
    name = "library/python"
    path = "/api/v1/%s/%s" % (kind, forms(name)[encoded])
    assert client.post("/api/v1/%s" % kind, json={"name": name}, headers=editor).status_code == 201
    found = client.get(path, headers=editor)
    assert found.status_code == 200 and found.json["name"] == name
    patched = client.patch(path, json={"description": "the official image"}, headers=editor)
    assert patched.status_code == 200 and patched.json["description"] == "the official image"
    assert client.delete(path, headers=editor).status_code == 204
    assert client.get(path, headers=editor).status_code == 404


def test_a_tool_created_by_ingest_is_addressable_renamable_and_guarded(client, editor):
    event = client.post("/api/v1/events", json={"title": "python:3.12 re-tagged", "type": "docker_image",
                                                "tools": ["registry.internal/library/python"]}, headers=editor)
    assert event.status_code == 201
    for path in forms("registry.internal/library/python"):
        tool = client.get("/api/v1/tools/" + path, headers=editor)
        assert tool.status_code == 200 and tool.json["event_count"] == 1
    refused = client.delete("/api/v1/tools/registry.internal/library/python", headers=editor)
    assert refused.status_code == 409 and "1 event references tool" in refused.json["message"]

    renamed = client.patch("/api/v1/tools/registry.internal/library/python", json={"name": "library/python"},
                           headers=editor)
    assert renamed.status_code == 200 and renamed.json["name"] == "library/python"
    assert client.get("/api/v1/tools/library/python", headers=editor).json["event_count"] == 1
    assert client.get("/api/v1/tools/registry.internal/library/python", headers=editor).status_code == 404
    assert client.delete("/api/v1/tools/library/python?force=true", headers=editor).status_code == 204


@pytest.mark.parametrize("path", ["library/", "library//python", "library/../python", "library/./python"])
def test_malformed_slash_paths_are_404_not_errors(client, editor, path):
    client.post("/api/v1/tools", json={"name": "library"}, headers=editor)
    assert client.get("/api/v1/tools/" + quote(path, safe=""), headers=editor).status_code == 404


def test_the_agent_page_of_a_name_with_a_slash(client, auth, editor):
    name = "pool/linux-07"
    client.post("/api/v1/events", json={"title": "JDK 17", "agents": [name]}, headers=editor)
    auth.login("reader", role="viewer")
    listing = client.get("/agents").get_data(as_text=True)
    assert 'href="/agents/pool/linux-07"' in listing
    for path in forms(name):
        page = client.get("/agents/" + path)
        assert page.status_code == 200
        assert "<h1>pool/linux-07 <span" in page.get_data(as_text=True) and "JDK 17" in page.get_data(as_text=True)
    assert client.get("/agents/pool/linux-08").status_code == 404


def test_the_page_of_a_tool_with_a_slash(client, auth, editor):
    client.post("/api/v1/events", json={"title": "python re-tagged", "tools": ["library/python"]}, headers=editor)
    auth.login("reader", role="viewer")
    assert 'href="/tools/library/python"' in client.get("/tools").get_data(as_text=True)
    for path in forms("library/python"):
        page = client.get("/tools/" + path)
        assert page.status_code == 200 and "python re-tagged" in page.get_data(as_text=True)


def test_openapi_documents_the_name_parameter_and_its_slashes(client, editor):
    document = client.get("/api/v1/openapi.json", headers=editor).json
    for kind in KINDS:
        one = document["paths"]["/api/v1/%s/{name}" % kind]
        assert set(one) == {"get", "patch", "delete"}
        for operation in one.values():
            parameter = {"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}
            assert parameter in operation["parameters"]
            assert "%2F" in operation["description"]
