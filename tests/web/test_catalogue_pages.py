"""The catalogue pages (/agents, /agents/<name>, /tools, /toolchains) and comments on /events/<id>."""
import re
from html import unescape
from urllib.parse import quote

import pytest

from app.models import Comment
from tests.conftest import connected


@pytest.fixture
def editor(auth):
    return auth.headers(role="editor", scope="write")


def record(client, headers, title, occurred_at, **links):
    response = client.post("/api/v1/events", json={"title": title, "occurred_at": occurred_at, **links}, headers=headers)
    assert response.status_code == 201
    return response.json["id"]


def rows(html, table_id):
    table = html.split('id="%s"' % table_id, 1)[1].split("</table>", 1)[0]
    return [unescape(re.sub(r"<[^>]+>", " ", row)).split() for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]


def test_agents_page_lists_labels_event_counts_and_last_change(client, auth, editor):
    client.post("/api/v1/agents", json={"name": "linux-07", "labels": ["linux", "docker"], "os": "Debian"}, headers=editor)
    client.post("/api/v1/agents", json={"name": "win-01", "labels": ["windows"], "offline": True}, headers=editor)
    record(client, editor, "a", "2026-01-02T03:04:00Z", agents=["linux-07"])
    record(client, editor, "b", "2026-01-05T06:07:00Z", agents=["linux-07"])
    auth.login("reader", role="viewer")

    page = client.get("/agents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert rows(html, "agent-list") == [
        ["linux-07", "linux", "docker", "Debian", "online", "2", "2026-01-05", "06:07"],
        ["win-01", "windows", "offline", "0", "none"],
    ]
    assert 'href="/agents/linux-07"' in html

    filtered = client.get("/agents?label=windows").get_data(as_text=True)
    assert [r[0] for r in rows(filtered, "agent-list")] == ["win-01"]
    assert [r[0] for r in rows(client.get("/agents?q=LINUX").get_data(as_text=True), "agent-list")] == ["linux-07"]
    bad = client.get("/agents?limit=0")
    assert bad.status_code == 422 and "limit" in bad.get_data(as_text=True)


@pytest.mark.parametrize("name", ["linux-07", "jdk-17.0.9 box", "агент ☃", "what?#%"])
def test_agent_page_shows_details_and_recent_events_newest_first(client, auth, editor, name):
    client.post("/api/v1/agents", json={"name": name, "labels": ["linux"], "executors": 3,
                                        "description": "the <b>big</b> one"}, headers=editor)
    older = record(client, editor, "JDK 17 <installed>", "2026-01-01T00:00:00Z", agents=[name])
    newer = record(client, editor, "Docker 27", "2026-02-01T00:00:00Z", agents=[name, "other"])
    record(client, editor, "elsewhere", "2026-03-01T00:00:00Z", agents=["other"])
    auth.login("reader", role="viewer")

    listing = client.get("/agents").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">%s</a>' % re.escape(str(unescape(name)).replace("&", "&amp;")), listing)
    assert link, listing
    page = client.get(unescape(link.group(1)))
    assert page.status_code == 200
    assert client.get("/agents/" + quote(name, safe="")).status_code == 200
    html = page.get_data(as_text=True)
    assert "the &lt;b&gt;big&lt;/b&gt; one" in html  # escaped, never markup
    details = unescape(re.sub(r"<[^>]+>", " ", html.split('id="agent-details"', 1)[1].split("</dl>", 1)[0]))
    assert "linux" in details and "3" in details
    ids = [int(i) for i in re.findall(r'<tr data-event-id="(\d+)"', html)]
    assert ids == [newer, older]
    assert 'href="/events/%d"' % newer in html and 'href="/events/%d"' % older in html
    assert "JDK 17 &lt;installed&gt;" in html


def test_unknown_agent_page_is_404(client, auth):
    auth.login("reader", role="viewer")
    response = client.get("/agents/ghost")
    assert response.status_code == 404 and "ghost" in response.get_data(as_text=True)


def test_tools_and_toolchains_pages(client, auth, editor):
    client.post("/api/v1/toolchains", json={"name": "java", "description": "JVM", "tools": ["jdk-17", "maven"]},
                headers=editor)
    client.patch("/api/v1/tools/jdk-17", json={"kind": "jdk"}, headers=editor)
    record(client, editor, "upgrade", "2026-01-02T03:04:00Z", tools=["jdk-17"], toolchains=["java"])
    auth.login("reader", role="viewer")

    tools = client.get("/tools").get_data(as_text=True)
    assert rows(tools, "tool-list") == [["jdk-17", "jdk", "java", "1", "2026-01-02", "03:04"],
                                        ["maven", "other", "java", "0", "none"]]
    assert 'href="/?tool=jdk-17"' in tools
    toolchains = client.get("/toolchains").get_data(as_text=True)
    assert rows(toolchains, "toolchain-list") == [["java", "JVM", "jdk-17,", "maven", "1", "2026-01-02", "03:04"]]
    assert [r[0] for r in rows(client.get("/tools?q=mav").get_data(as_text=True), "tool-list")] == ["maven"]


def test_long_lists_page_with_a_next_link(client, auth, editor):
    for i in range(3):
        client.post("/api/v1/tools", json={"name": "t%d" % i}, headers=editor)
    auth.login("reader", role="viewer")
    html = client.get("/tools?limit=2").get_data(as_text=True)
    assert [r[0] for r in rows(html, "tool-list")] == ["t0", "t1"]
    following = unescape(re.search(r'<a href="([^"]+)" rel="next">', html).group(1))
    assert [r[0] for r in rows(client.get(following).get_data(as_text=True), "tool-list")] == ["t2"]


def test_nav_links_and_login_required(client, auth):
    for path in ("/agents", "/agents/x", "/tools", "/toolchains"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login("reader", role="viewer")
    html = client.get("/").get_data(as_text=True)
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert 'href="/agents"' in nav and 'href="/tools"' in nav and 'href="/toolchains"' in nav


def test_event_page_shows_comments_and_editors_get_a_form(client, auth, editor, app):
    event_id = record(client, editor, "JDK 17", "2026-01-02T03:04:00Z")
    client.post("/api/v1/events/%d/comments" % event_id, json={"body": "Broke <maven>\nsecond line"}, headers=editor)

    auth.login("reader", role="viewer")
    html = client.get("/events/%d" % event_id).get_data(as_text=True)
    assert "Broke &lt;maven&gt;\nsecond line" in html and "editor (token test)" in html
    assert 'id="add-comment"' not in html
    assert client.post("/events/%d/comments" % event_id, data={"body": "x", "csrf_token": auth.csrf_token("/")}).status_code == 403

    auth.logout()
    auth.login("ed", role="editor")
    html = client.get("/events/%d" % event_id).get_data(as_text=True)
    form = html.split('id="add-comment"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrf_token"' in form and 'name="body"' in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)

    posted = client.post("/events/%d/comments" % event_id, data={"body": "Rolled back.", "csrf_token": token})
    assert posted.status_code == 302 and posted.headers["Location"].endswith("/events/%d#comments" % event_id)
    html = client.get("/events/%d" % event_id).get_data(as_text=True)
    assert "Rolled back." in html and "Comment added." in html

    blank = client.post("/events/%d/comments" % event_id, data={"body": "   ", "csrf_token": token}, follow_redirects=True)
    assert "Comment not saved" in blank.get_data(as_text=True) and "blank" in blank.get_data(as_text=True)
    assert client.post("/events/%d/comments" % event_id, data={"body": "no token"}).status_code == 400
    assert client.post("/events/999/comments", data={"body": "x", "csrf_token": token}).status_code == 404
    with connected(app):
        assert [c.body for c in Comment.select().order_by(Comment.id)] == ["Broke <maven>\nsecond line", "Rolled back."]
