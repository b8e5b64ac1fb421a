"""The /fleet page: a page of agents × a page of tools, outliers highlighted and linked to the change that
introduced them; at 500 agents × 200 tools as well as on a small fleet."""
import hashlib
import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from app.db import to_db_time
from app.models import Agent, Snapshot
from tests.api.test_fleet import POLLER, T0, observe_agent, observe_plugins
from tests.conftest import connected
from tests.web.pages_support import refused_query, text_of

AGENTS, TOOLS = 500, 200


def synthetic_fleet(app, agents=AGENTS, tools=TOOLS):
    """A fleet observed by the Jenkins poller: ``agents`` agents (agent-000…) each with ``tools`` tools
    (tool-000…) at version 1.<tool>.0, except that every tenth tool runs 2.<tool>.0 on the ten agents where
    (agent + tool) % 50 == 0; then agent-499 moves tool-005 to 1.5.1, a change the poller records as an event.
    Returns that event's id. The baselines go in as rows (500 submissions would take most of a minute); the
    change goes through the poller's own path."""
    def content(agent, overrides=None):
        homes = {}
        for tool in range(tools):
            version = "2.%d.0" % tool if tool % 10 == 0 and (agent + tool) % 50 == 0 else "1.%d.0" % tool
            homes["tool-%03d" % tool] = {"kind": "other", "home": "/opt/tool-%03d-%s" % (tool, version)}
        homes.update(overrides or {})
        return {"name": "agent-%03d" % agent, "controller": "ci", "labels": ["linux"], "tools": homes,
                "observed": {"offline": False}}

    with connected(app):
        rows = []
        for agent in range(agents):
            body = content(agent)
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            rows.append({"collector": "jenkins_agent", "key": "ci/agent-%03d" % agent, "observed_at": to_db_time(T0),
                         "received_at": to_db_time(T0), "content": body, "content_sha256": digest, "event_ids": []})
        for start in range(0, len(rows), 50):
            Snapshot.insert_many(rows[start:start + 50]).execute()
        Agent.insert_many([{"name": "agent-%03d" % a, "labels": ["linux"]} for a in range(agents)]).execute()
        from app.polling import snapshots
        moved = content(agents - 1, {"tool-005": {"kind": "other", "home": "/opt/tool-005-1.5.1"}})
        result = snapshots.submit("jenkins_agent", "ci/agent-%03d" % (agents - 1), T0 + timedelta(minutes=5), moved,
                                  actor=POLLER)
    assert result["event_id"]
    return result["event_id"]


def matrix(html):
    """(column names, {row name: [cell texts]}) of #agent-matrix; an outlier's text starts with "≠ ", as it shows."""
    table = html.split('id="agent-matrix"', 1)[1].split("</table>", 1)[0]
    columns = re.findall(r'<th scope="col" data-column="([^"]+)"', table)
    cells = {}
    for name, row in re.findall(r'<tr data-row="([^"]+)">(.*?)</tr>', table, re.S):
        cells[unescape(name)] = [("≠ " if 'class="outlier"' in td else "") + " ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
                                 for td, c in re.findall(r"(<td[^>]*>)(.*?)</td>", row, re.S)]
    return [unescape(c) for c in columns], cells


def pager_link(html, pager_id, rel):
    nav = html.split('id="%s"' % pager_id, 1)[1].split("</nav>", 1)[0]
    found = re.search(r'<a href="([^"]+)" rel="%s"' % rel, nav)
    return unescape(found.group(1)) if found else None


@pytest.fixture
def fleet(app, auth):
    event_id = synthetic_fleet(app)
    auth.login("reader", role="viewer")
    return event_id


def test_500_agents_by_200_tools_read_a_page_at_a_time(client, fleet):
    html = client.get("/fleet").get_data(as_text=True)
    assert text_of(html, "fleet-summary") == "500 agents 200 tools 21 tools drift 201 values differ from the majority"
    assert text_of(html, "agent-pager").startswith("Agents 1–50 of 500 · page 1 of 10")
    assert text_of(html, "tool-pager").startswith("Tools 1–12 of 200 · page 1 of 17")
    columns, cells = matrix(html)
    assert columns == ["tool-%03d" % t for t in range(12)]
    assert list(cells) == ["agent-%03d" % a for a in range(50)]
    assert cells["agent-000"][0] == "≠ 2.0.0" and cells["agent-001"][0] == "1.0.0"  # (0 + 0) % 50 == 0
    assert cells["agent-040"][10] == "≠ 2.10.0"
    assert html.count('<td class="outlier"') == 2  # tool-000 on agent-000, tool-010 on agent-040
    # The next page of tools keeps the page of agents, and the other way round.
    following = pager_link(html, "tool-pager", "next")
    assert parse_qs(urlsplit(following).query) == {"tools_page": ["2"]}
    second = client.get(pager_link(client.get(following).get_data(as_text=True), "agent-pager", "next"))
    columns, cells = matrix(second.get_data(as_text=True))
    assert columns[0] == "tool-012" and list(cells)[0] == "agent-050"

    last = client.get("/fleet?page=99&tools_page=99").get_data(as_text=True)
    assert text_of(last, "agent-pager").startswith("Agents 451–500 of 500 · page 10 of 10")
    assert text_of(last, "tool-pager").startswith("Tools 193–200 of 200 · page 17 of 17")
    columns, cells = matrix(last)
    assert len(columns) == 8 and len(cells) == 50


def test_only_drifting_tools_and_agents_with_outliers_each_linked_to_its_change(client, fleet):
    html = client.get("/fleet?drifting=on&odd=on&tools_per_page=30").get_data(as_text=True)
    columns, cells = matrix(html)
    assert columns == sorted(["tool-005"] + ["tool-%03d" % t for t in range(0, 200, 10)])
    # every tenth agent has one of the every-tenth tools at 2.x; agent-499 has moved tool-005
    assert text_of(html, "agent-pager").startswith("Agents 1–50 of 51")
    assert all(any(c.startswith("≠") for c in row) for row in cells.values())
    # Each highlighted cell links to the change that introduced it, or says it was there from the first snapshot.
    narrowed = client.get("/fleet?agent=agent-499&tool=tool-005").get_data(as_text=True)
    cell = re.search(r'<td class="outlier" data-column="tool-005"[^>]*>(.*?)</td>', narrowed, re.S).group(1)
    assert re.search(r'<a href="/events/%d"' % fleet, cell) and ">1.5.1</a>" in cell
    listed = text_of(narrowed, "outliers")
    assert "agent-499 tool-005 1.5.1 1.5.0 #%d agent-499: tool-005 tool home" % fleet in listed
    baseline = client.get("/fleet?agent=agent-000&tool=tool-000").get_data(as_text=True)
    assert "there since the first snapshot" in text_of(baseline, "outliers")
    assert '<td class="outlier" data-column="tool-000" title="/opt/tool-000-2.0.0 (majority 1.0.0)"><span' in baseline


def test_filters_that_match_nothing_say_so(client, fleet):
    assert "No tool matches “nothing”." in client.get("/fleet?tool=nothing").get_data(as_text=True)
    assert "No agent matches “nobody”." in client.get("/fleet?agent=nobody").get_data(as_text=True)


@pytest.mark.parametrize("query, label", [("page=0", "Page of agents"), ("tools_per_page=1000", "Tools per page"),
                                          ("per_page=x", "Agents per page")])
def test_a_bad_fleet_query_is_422_and_keeps_the_form(client, auth, query, label):
    auth.login("reader", role="viewer")
    refused_query(client, "/fleet?" + query, label, "fleet-filters")


def test_a_small_fleet_with_controllers(app, client, auth):
    with connected(app):
        for name in ("linux-01", "linux-02", "linux-03"):
            observe_agent(name, "/opt/jdk-17.0.9")
        upgrade = observe_agent("linux-03", "/opt/jdk-21.0.2", minutes=5)
        observe_plugins("ci", "2.462.3", git="5.2.1", junit="1.0")
        observe_plugins("ci-b", "2.462.3", git="5.2.1", junit="1.0")
        observe_plugins("ci-c", "2.462.3", git="5.2.1", junit="1.0")
        plugin_change = observe_plugins("ci-c", "2.462.3", minutes=10, git="5.2.0", junit="1.0")
    auth.login("reader", role="viewer")
    page = client.get("/fleet")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/fleet" aria-current="page"' in html  # the nav link, marked
    summary = text_of(html, "fleet-summary")
    assert summary == "3 agents 2 tools 1 tool drifts 1 value differs from the majority 3 controllers, 1 drifting plugin"
    cell = re.search(r'<td class="outlier" data-column="JDK"[^>]*>(.*?)</td>', html).group(1)
    assert re.fullmatch(r'<a href="/events/%d" aria-label="[^"]+">21.0.2</a>' % upgrade["event_id"], cell)
    assert html.count('<td class="outlier"') == 2  # JDK on linux-03, git on ci-c
    assert "17.0.9 · 1 off" in text_of(html, "agent-matrix")
    controllers = html.split('id="controller-matrix"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<th scope="col" data-column="([^"]+)"', controllers) == ["core", "git"]
    assert "1 other plugin has the same version on every controller." in " ".join(html.split())
    notes = text_of(html, "plugin-outliers")
    assert "ci-c has git 5.2.0 (majority 5.2.1): #%d" % plugin_change["event_id"] in notes
    assert "/static/css/pages.css" in html


def test_empty_fleet_says_how_to_fill_it(client, auth):
    auth.login("reader", role="viewer")
    html = client.get("/fleet").get_data(as_text=True)
    assert "Nothing observed yet" in html and "changetracker poll jenkins" in html


def test_fleet_page_needs_a_login(client):
    response = client.get("/fleet")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
