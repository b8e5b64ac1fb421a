def test_post_and_get(client, auth):
    h = auth.headers()
    r = client.post("/api/v1/events", json={"title": "x", "agents": ["a"]}, headers=h)
    assert r.status_code == 201, r.json
    r2 = client.get("/api/v1/events/%d" % r.json["id"], headers=h)
    assert r2.json["agents"] == ["a"]

def test_login(client, auth):
    r = auth.login()
    assert r.status_code == 302
    assert client.get("/").status_code == 200
