"""The catalogue pages (/agents, /tools, /toolchains and a page per item) and comments on /events/<id>."""
import re
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from app.models import Agent, AuditEntry, Comment
from tests.api.test_fleet import observe_agent
from tests.conftest import connected
from tests.web.pages_support import refused_query, text_of


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


def link(html, rel_or_id):
    match = re.search(r'<a [^>]*href="([^"]+)"[^>]*(?:rel|id)="%s"' % re.escape(rel_or_id), html)
    return unescape(match.group(1)) if match else None


def csrf_from(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


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
    assert 'href="/agents/linux-07"' in html and 'href="/events?agent=linux-07"' in html
    assert text_of(html, "pager-top") == "Agents 1–2 of 2"
    # The label filter offers every label with how many agents carry it.
    assert '<option value="linux">linux (1)</option>' in html

    filtered = client.get("/agents?label=windows").get_data(as_text=True)
    assert [r[0] for r in rows(filtered, "agent-list")] == ["win-01"]
    assert [r[0] for r in rows(client.get("/agents?q=LINUX").get_data(as_text=True), "agent-list")] == ["linux-07"]
    assert [r[0] for r in rows(client.get("/agents?status=offline").get_data(as_text=True), "agent-list")] == ["win-01"]
    newest_first = client.get("/agents?sort=-last_event_at&q=&label=").get_data(as_text=True)  # blank fields: no filter
    assert [r[0] for r in rows(newest_first, "agent-list")] == ["linux-07", "win-01"]
    nothing = client.get("/agents?q=nobody").get_data(as_text=True)
    assert "No agents match these filters." in nothing and text_of(nothing, "pager-top") == "No agents"


@pytest.mark.parametrize("query, field", [("per_page=0", "Per page"), ("page=x", "Page"), ("status=gone", "Status"),
                                          ("sort=size", "Sort")])
def test_a_bad_list_query_is_422_with_the_filters_still_there(client, auth, query, field):
    auth.login("reader", role="viewer")
    refused_query(client, "/agents?" + query, field, "catalogue-search")


def test_500_agents_read_as_numbered_pages_with_the_filters_kept(app, client, auth):
    with connected(app):
        Agent.insert_many([{"name": "agent-%03d" % i, "labels": ["linux"] if i % 2 else ["windows"]}
                           for i in range(500)]).execute()
    auth.login("reader", role="viewer")
    first = client.get("/agents").get_data(as_text=True)
    assert text_of(first, "pager-top") == "Agents 1–50 of 500 · page 1 of 10 « First ‹ Previous Next › Last »"
    assert [r[0] for r in rows(first, "agent-list")][:2] == ["agent-000", "agent-001"]
    assert len(rows(first, "agent-list")) == 50
    assert link(first, "prev") is None

    second = client.get(link(first, "next")).get_data(as_text=True)
    assert text_of(second, "pager-top").startswith("Agents 51–100 of 500 · page 2 of 10")
    assert rows(second, "agent-list")[0][0] == "agent-050"
    assert client.get(link(second, "prev")).get_data(as_text=True) == client.get("/agents").get_data(as_text=True)

    # The filter stays on every page link; a page past the end shows the last one.
    linux = client.get("/agents?label=linux&page=3").get_data(as_text=True)
    assert text_of(linux, "pager-top").startswith("Agents 101–150 of 250")
    assert all(r[1] == "linux" for r in rows(linux, "agent-list"))
    following = urlsplit(link(linux, "next"))
    assert parse_qs(following.query) == {"label": ["linux"], "page": ["4"]}
    last = client.get("/agents?label=linux&page=99").get_data(as_text=True)
    assert text_of(last, "pager-top").startswith("Agents 201–250 of 250 · page 5 of 5")
    bigger = client.get("/agents?per_page=200").get_data(as_text=True)
    assert len(rows(bigger, "agent-list")) == 200


@pytest.mark.parametrize("name", ["linux-07", "jdk-17.0.9 box", "агент ☃", "what?#%"])
def test_agent_page_shows_details_and_recent_events_newest_first(client, auth, editor, name):
    client.post("/api/v1/agents", json={"name": name, "labels": ["linux"], "executors": 3,
                                        "description": "the <b>big</b> one"}, headers=editor)
    older = record(client, editor, "JDK 17 <installed>", "2026-01-01T00:00:00Z", agents=[name])
    newer = record(client, editor, "Docker 27", "2026-02-01T00:00:00Z", agents=[name, "other"])
    record(client, editor, "elsewhere", "2026-03-01T00:00:00Z", agents=["other"])
    auth.login("reader", role="viewer")

    listing = client.get("/agents").get_data(as_text=True)
    found = re.search(r'<a href="([^"]+)">%s</a>' % re.escape(str(unescape(name)).replace("&", "&amp;")), listing)
    assert found, listing
    page = client.get(unescape(found.group(1)))
    assert page.status_code == 200
    assert client.get("/agents/" + quote(name, safe="")).status_code == 200
    html = page.get_data(as_text=True)
    assert "the &lt;b&gt;big&lt;/b&gt; one" in html  # escaped, never markup
    details = text_of(html, "agent-details")
    assert "Labels linux" in details and "Executors 3" in details and "Changes 2" in details
    ids = [int(i) for i in re.findall(r'<tr data-event-id="(\d+)"', html)]
    assert ids == [newer, older]
    assert 'href="/events/%d"' % newer in html and 'href="/events/%d"' % older in html
    assert "JDK 17 &lt;installed&gt;" in html
    # The timeline and the table, filtered on this agent; the timeline reaches back to the oldest change shown.
    timeline = urlsplit(link(html, "on-timeline"))
    assert timeline.path == "/" and parse_qs(timeline.query) == {"agent": [name], "from": ["2026-01-01T00:00:00Z"]}
    table = urlsplit(link(html, "in-table"))
    assert table.path == "/events" and parse_qs(table.query) == {"agent": [name]}


def test_a_busy_agent_shows_its_newest_changes_and_says_how_many_there_are(app, client, auth, editor):
    for day in range(1, 31):
        record(client, editor, "change %d" % day, "2026-01-%02dT12:00:00Z" % day, agents=["busy-01"])
    auth.login("reader", role="viewer")
    html = client.get("/agents/busy-01").get_data(as_text=True)
    assert len(re.findall(r'<tr data-event-id="\d+"', html)) == 25
    assert text_of(html, "recent-count") == "The newest 25 of 30 changes."
    assert text_of(html, "in-table") == "All 30 in the table"
    assert parse_qs(urlsplit(link(html, "on-timeline")).query)["from"] == ["2026-01-06T12:00:00Z"]


def test_agent_page_shows_the_tools_the_poller_saw_with_outliers_linked(app, client, auth):
    with connected(app):
        for name in ("linux-01", "linux-02", "linux-03"):
            observe_agent(name, "/opt/jdk-17.0.9")
        upgrade = observe_agent("linux-03", "/opt/jdk-21.0.2", minutes=5)
    auth.login("reader", role="viewer")
    odd = client.get("/agents/linux-03").get_data(as_text=True)
    tools = text_of(odd, "observed-tools")
    assert "JDK 21.0.2 (fleet: 17.0.9)" in tools and "Maven 3.9.6" in tools
    assert '<li class="outlier"><a href="/fleet?tool=JDK"' in odd
    assert 'href="/events/%d"' % upgrade["event_id"] in odd.split('id="observed-tools"', 1)[1]
    usual = text_of(client.get("/agents/linux-01").get_data(as_text=True), "observed-tools")
    assert "JDK 17.0.9" in usual and "fleet:" not in usual


def test_unknown_items_are_404_pages(client, auth):
    auth.login("reader", role="viewer")
    for path in ("/agents/ghost", "/tools/ghost", "/toolchains/ghost"):
        response = client.get(path)
        assert response.status_code == 404 and "ghost" in response.get_data(as_text=True)
        assert "Not found" in text_of(response.get_data(as_text=True), "error-title")


def test_tools_and_toolchains_pages(app, client, auth, editor):
    client.post("/api/v1/toolchains", json={"name": "java", "description": "JVM", "tools": ["jdk-17", "maven"]},
                headers=editor)
    client.patch("/api/v1/tools/jdk-17", json={"kind": "jdk"}, headers=editor)
    upgrade = record(client, editor, "upgrade", "2026-01-02T03:04:00Z", tools=["jdk-17"], toolchains=["java"])
    auth.login("reader", role="viewer")

    tools = client.get("/tools").get_data(as_text=True)
    assert rows(tools, "tool-list") == [["jdk-17", "jdk", "java", "1", "2026-01-02", "03:04"],
                                        ["maven", "other", "java", "0", "none"]]
    assert 'href="/tools/jdk-17"' in tools and 'href="/events?tool=jdk-17"' in tools
    assert '<option value="jdk">jdk (1)</option>' in tools
    assert [r[0] for r in rows(client.get("/tools?kind=jdk").get_data(as_text=True), "tool-list")] == ["jdk-17"]
    assert [r[0] for r in rows(client.get("/tools?q=mav").get_data(as_text=True), "tool-list")] == ["maven"]

    tool = client.get("/tools/jdk-17").get_data(as_text=True)
    assert "Toolchains java" in text_of(tool, "tool-details")
    assert re.findall(r'<tr data-event-id="(\d+)"', tool) == [str(upgrade)]
    assert parse_qs(urlsplit(link(tool, "in-table")).query) == {"tool": ["jdk-17"]}
    assert "No poller snapshot names this tool" in text_of(tool, "fleet-versions")

    toolchains = client.get("/toolchains").get_data(as_text=True)
    assert rows(toolchains, "toolchain-list") == [["java", "JVM", "jdk-17", ",", "maven", "1", "2026-01-02", "03:04"]]
    chain = client.get("/toolchains/java").get_data(as_text=True)
    assert text_of(chain, "toolchain-details").startswith("Tools jdk-17, maven")
    assert parse_qs(urlsplit(link(chain, "in-table")).query) == {"toolchain": ["java"]}


def test_a_tool_page_shows_its_versions_across_the_fleet(app, client, auth):
    with connected(app):
        for name in ("linux-01", "linux-02", "linux-03"):
            observe_agent(name, "/opt/jdk-17.0.9")
        observe_agent("linux-03", "/opt/jdk-21.0.2", minutes=5)  # names the tool JDK in an event
    auth.login("reader", role="viewer")
    html = client.get("/tools/JDK").get_data(as_text=True)
    assert rows(html, "fleet-versions") == [["17.0.9", "(majority)", "2"], ["21.0.2", "1"]]
    assert "On 3 agents; 1 differs from the majority." in text_of(html, "fleet-versions")


def test_an_editor_edits_an_agent_on_its_page_and_a_viewer_cannot(app, client, auth, editor):
    client.post("/api/v1/agents", json={"name": "linux-07", "labels": ["linux"]}, headers=editor)
    auth.login("reader", role="viewer")
    html = client.get("/agents/linux-07").get_data(as_text=True)
    assert 'id="edit-item"' not in html
    refused = client.post("/agents/linux-07", data={"description": "mine", "csrf_token": csrf_from(html)})
    assert refused.status_code == 403
    auth.logout()

    auth.login("ed", role="editor")
    html = client.get("/agents/linux-07").get_data(as_text=True)
    form = html.split('id="edit-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="labels"' in form and 'value="linux"' in form
    saved = client.post("/agents/linux-07", data={"labels": "linux, docker", "url": "https://ci.example/computer/linux-07/",
                                                   "description": "Build box\r\nin rack 4", "csrf_token": csrf_from(html)})
    assert saved.status_code == 303 and saved.headers["Location"] == "/agents/linux-07"
    page = client.get("/agents/linux-07").get_data(as_text=True)
    assert "Saved the agent linux-07." in page
    with connected(app):
        agent = Agent.get(Agent.name == "linux-07")
        assert (agent.labels, agent.description) == (["linux", "docker"], "Build box\nin rack 4")
        entries = AuditEntry.select().where(AuditEntry.entity_type == "agent").count()

    again = client.post("/agents/linux-07", data={"labels": "linux docker", "url": "https://ci.example/computer/linux-07/",
                                                   "description": "Build box\nin rack 4", "csrf_token": csrf_from(page)},
                        follow_redirects=True)
    assert "Nothing to save" in again.get_data(as_text=True)
    bad = client.post("/agents/linux-07", data={"labels": "linux", "url": "ftp://nope", "description": "",
                                                 "csrf_token": csrf_from(page)})
    assert bad.status_code == 422
    bad_html = bad.get_data(as_text=True)
    assert "URL" in text_of(bad_html, "f-error-summary") and 'value="ftp://nope"' in bad_html
    with connected(app):
        assert AuditEntry.select().where(AuditEntry.entity_type == "agent").count() == entries
        assert Agent.get(Agent.name == "linux-07").url == "https://ci.example/computer/linux-07/"


def test_an_editor_sets_a_toolchains_tools_and_a_tools_kind(app, client, auth, editor):
    client.post("/api/v1/toolchains", json={"name": "java", "tools": ["jdk-17"]}, headers=editor)
    auth.login("ed", role="editor")
    html = client.get("/toolchains/java").get_data(as_text=True)
    client.post("/toolchains/java", data={"tools": "jdk-17, maven 3, gradle", "description": "",
                                          "csrf_token": csrf_from(html)})
    chain = client.get("/toolchains/java").get_data(as_text=True)
    assert text_of(chain, "toolchain-details").startswith("Tools gradle, jdk-17, maven 3")
    client.post("/tools/maven 3", data={"kind": "maven", "url": "", "description": "", "csrf_token": csrf_from(html)})
    assert "Kind maven" in text_of(client.get("/tools/maven%203").get_data(as_text=True), "tool-details")


def test_nav_links_and_login_required(client, auth):
    for path in ("/agents", "/agents/x", "/tools", "/tools/x", "/toolchains", "/toolchains/x"):
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
