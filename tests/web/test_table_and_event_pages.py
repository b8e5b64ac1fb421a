"""/events (the table) and /events/<id> over the test client: positions of keyset pages, sort buttons, the two
empty states, "only this" and "leave out" links, inline edit of severity and tags, and one event's page: readable
changes and history, rollbacks both ways, ending an outage, deleting with a confirmation."""
import html as htmllib
import re

import pytest

from app.accounts.audit import Actor
from app.ledger.events import get_event, record_event
from app.models import Event
from tests.conftest import connected


def text_of(fragment):
    text = " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r" ([,.])", r"\1", text)


def csrf_from(page_html):
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def titles(page_html):
    if 'id="ledger"' not in page_html:
        return []  # an empty state, no table
    table = page_html.split('id="ledger"', 1)[1].split("</table>", 1)[0]
    return [text_of(t) for t in re.findall(r'<a href="/events/\d+">(.*?)</a>', table, re.S)]


def record_all(app, payloads):
    with connected(app):
        return [record_event(p, Actor("t"))[0] for p in payloads]


@pytest.fixture
def many(app):
    return record_all(app, [{"title": "change %02d" % i, "agents": ["linux-%02d" % (i % 3)], "tags": ["t%d" % (i % 2)],
                             "severity": ("info", "low", "high")[i % 3],
                             "occurred_at": "2026-11-20T%02d:00:00Z" % i} for i in range(12)])


def test_pages_say_which_rows_of_how_many_they_show(client, auth, many):
    auth.login("viewer", role="viewer")
    html = client.get("/events?limit=5").get_data(as_text=True)
    assert "1–5 of 12 events" in html
    for expected in ("6–10 of 12 events", "11–12 of 12 events"):
        next_url = htmllib.unescape(re.search(r'<a href="([^"]+)" rel="next" id="next-page"', html).group(1))
        html = client.get(next_url).get_data(as_text=True)
        assert expected in html
    assert 'id="next-page"' not in html
    assert titles(html) == ["change 01", "change 00"]


def test_each_sortable_column_has_a_button_and_the_sorted_one_says_so(client, auth, many):
    auth.login("viewer", role="viewer")
    html = client.get("/events?agent=linux-01").get_data(as_text=True)
    heads = re.findall(r'<th scope="col"( aria-sort="(\w+)")?>\s*<form[^>]*>(.*?)</form>', html, re.S)
    buttons = {text_of(form): (sort, re.search(r'name="sort" value="([^"]+)"', form).group(1)) for _, sort, form in heads}
    assert buttons == {"When": ("descending", "occurred_at"), "Severity": ("", "-severity"), "Title": ("", "title")}
    # The buttons keep the filters.
    assert all('name="agent" value="linux-01"' in form for _, _, form in heads)
    html = client.get("/events?agent=linux-01&sort=title").get_data(as_text=True)
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<form[^>]*>.*?>Title</button>', html, re.S)
    assert titles(html) == ["change %02d" % i for i in (1, 4, 7, 10)]


def test_an_empty_ledger_says_how_to_fill_it_and_a_filter_that_matches_nothing_offers_to_clear(client, auth, app):
    auth.login("editor", role="editor")
    html = client.get("/events").get_data(as_text=True)
    assert 'id="empty-ledger"' in html and "Nothing recorded yet" in html and 'href="/events/new"' in html
    assert 'href="/import"' in html and 'id="no-match"' not in html
    record_all(app, [{"title": "x", "agents": ["linux-01"]}])
    html = client.get("/events?agent=linux-09").get_data(as_text=True)
    assert 'id="no-match"' in html and 'id="empty-ledger"' not in html
    assert '<a href="/events" id="clear-filters">Clear all</a>' in html
    assert re.search(r'<span class="chip"><span class="chip-name">Agent</span> linux-09', html)


def test_only_this_and_leave_out_links_keep_the_other_filters(client, auth, many):
    auth.login("viewer", role="viewer")
    html = client.get("/events?severity=high").get_data(as_text=True)
    only = htmllib.unescape(re.search(r'<a href="([^"]+)" title="Only events with agent linux-02">', html).group(1))
    without = htmllib.unescape(re.search(r'<a class="exclude" href="([^"]+)" title="Leave agent linux-02 out"', html).group(1))
    assert "severity=high" in only and "agent=linux-02" in only
    assert "severity=high" in without and "not_agent=linux-02" in without
    assert {text_of(t) for t in titles(client.get(only).get_data(as_text=True))} == {"change 02", "change 05", "change 08", "change 11"}
    assert titles(client.get(without).get_data(as_text=True)) == []
    left = client.get("/events?not_tag=t1&not_agent=linux-00").get_data(as_text=True)
    assert titles(left) == ["change 10", "change 08", "change 04", "change 02"]
    api = client.get("/api/v1/events?not_tool=none&not_tag=t0", headers=auth.headers(role="viewer", scope="read")).json
    assert [e["title"] for e in api["items"]] == ["change %02d" % i for i in (11, 9, 7, 5, 3, 1)]


def test_editors_edit_severity_and_tags_inline_and_viewers_see_no_controls(client, auth, app, many):
    auth.login("viewer", role="viewer")
    html = client.get("/events").get_data(as_text=True)
    assert "quick-edit" not in html and 'name="severity" id="sev-' not in html
    assert client.post("/events/%d/quick-edit" % many[0]["id"], data={"severity": "critical"}).status_code in (400, 403)

    auth.login("editor", role="editor")
    html = client.get("/events?limit=50").get_data(as_text=True)
    back = "/events?limit=50"
    response = client.post("/events/%d/quick-edit" % many[0]["id"], data={
        "severity": "critical", "back": back, "csrf_token": csrf_from(html)})
    assert response.status_code == 303 and response.headers["Location"].endswith(back + "#event-%d" % many[0]["id"])
    response = client.post("/events/%d/quick-edit" % many[0]["id"], data={
        "tags": "t0, rollout,  rollout", "back": back, "csrf_token": csrf_from(html)})
    assert response.status_code == 303
    with connected(app):
        event = get_event(many[0]["id"])
    assert event["severity"] == "critical" and event["tags"] == ["rollout", "t0"]
    bad = client.post("/events/%d/quick-edit" % many[0]["id"], data={
        "severity": "apocalyptic", "back": "https://evil.example/", "csrf_token": csrf_from(html)})
    assert bad.status_code == 303 and bad.headers["Location"].startswith("/events")  # never another site
    page = client.get(bad.headers["Location"]).get_data(as_text=True)
    assert "was not changed: severity: Must be one of" in text_of(page)


def test_an_event_page_shows_changes_and_history_as_people_read_them(client, auth, app):
    [event] = record_all(app, [{"title": "JDK on linux-07", "agents": ["linux-07"], "build_url": "http://ci/job/x/7/",
                                "changes": [{"path": "tools/jdk", "before": "/opt/jdk-17.0.8", "after": "/opt/jdk-17.0.9"},
                                            {"path": "labels", "before": ["linux"], "after": ["docker", "linux"]},
                                            {"path": "env", "before": None, "after": {"JAVA_OPTS": "-Xmx2g"}}]}])
    auth.login("editor", role="editor")
    client.patch("/api/v1/events/%d" % event["id"], json={"tags": ["jdk"], "severity": "high"},
                 headers=auth.headers(role="editor", scope="write"))
    html = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    changes = html.split('id="changes"', 1)[1].split("</table>", 1)[0]
    assert "/opt/jdk-17.0.8" in changes and "/opt/jdk-17.0.9" in changes
    assert '<span class="tag">docker</span>' in changes and '"JAVA_OPTS": "-Xmx2g"' in htmllib.unescape(changes)
    history = html.split('id="audit-list"', 1)[1].split("</table>", 1)[0]
    for python in ("None", "['", "{'", "True", "False"):
        assert python not in htmllib.unescape(history), python
    assert re.search(r'<dt data-field="severity">severity</dt><dd class="before"><del>info</del></dd>'
                     r'<dd class="after"><ins>high</ins></dd>', history)
    assert 'href="/suspects?build_url=http' in html  # the build's suspects are a click away


def test_rollbacks_link_both_ways_with_the_time_between(client, auth, app):
    [change, rollback] = record_all(app, [
        {"title": "Docker 27.3", "agents": ["linux-08"], "occurred_at": "2026-11-20T09:00:00Z"},
        {"title": "Back to Docker 27.2", "type": "rollback", "agents": ["linux-08"],
         "occurred_at": "2026-11-20T11:15:00Z"}])
    auth.login("viewer", role="viewer")
    with connected(app):
        Event.update(reverts=change["id"]).where(Event.id == rollback["id"]).execute()
    html = text_of(client.get("/events/%d" % change["id"]).get_data(as_text=True))
    assert 'Rolled back by #%d “Back to Docker 27.2”, 2h 15m later.' % rollback["id"] in html
    html = text_of(client.get("/events/%d" % rollback["id"]).get_data(as_text=True))
    assert 'Rolls back #%d “Docker 27.3”, 2h 15m after it.' % change["id"] in html


def test_end_an_ongoing_outage_now(client, auth, app):
    [outage] = record_all(app, [{"title": "Proxy down", "type": "outage", "severity": "critical"}])
    auth.login("viewer", role="viewer")
    assert "End this outage now" not in client.get("/events/%d" % outage["id"]).get_data(as_text=True)
    auth.login("editor", role="editor")
    html = client.get("/events/%d" % outage["id"]).get_data(as_text=True)
    assert "still going on" in html and "End this outage now" in html
    response = client.post("/events/%d/end" % outage["id"], data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    with connected(app):
        ended = get_event(outage["id"])
    assert ended["ended_at"] is not None and ended["ended_at"] >= ended["occurred_at"]
    html = client.get("/events/%d" % outage["id"]).get_data(as_text=True)
    assert "End this outage now" not in html and "Ended “Proxy down”" in html


def test_delete_asks_first_then_deletes_and_keeps_the_history(client, auth, app):
    [event] = record_all(app, [{"title": "Typo event"}])
    auth.login("viewer", role="viewer")
    assert client.get("/events/%d/delete" % event["id"]).status_code == 403
    auth.login("editor", role="editor")
    page = client.get("/events/%d" % event["id"]).get_data(as_text=True)
    assert 'id="delete-event"' in page
    confirm = client.get("/events/%d/delete" % event["id"])
    assert confirm.status_code == 200 and "Delete this event?" in confirm.get_data(as_text=True)
    with connected(app):
        assert Event.select().count() == 1  # asking deleted nothing
    response = client.post("/events/%d/delete" % event["id"], data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert response.status_code == 303
    with connected(app):
        assert Event.select().count() == 0
    assert client.get("/events/%d" % event["id"]).status_code == 404
    audit = client.get("/api/v1/events/%d/history" % event["id"], headers=auth.headers(role="viewer", scope="read"))
    assert [e["action"] for e in audit.json["items"]] == ["create", "delete"]
