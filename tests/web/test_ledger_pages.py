"""The ledger pages over the Flask test client: /events, /events/new, /import, /suspects and related changes."""
import csv
import html as htmllib
import io
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from app.accounts.audit import Actor
from app.ledger.events import record_event
from app.models import AuditEntry, Event, SavedSearch
from tests.conftest import connected

BUILD = "http://jenkins:8080/job/app/42/"


# --------------------------------------------------------------------------- helpers

def record_all(app, payloads):
    """{title: id} of events recorded through the one ingest function."""
    with connected(app):
        return {p["title"]: record_event(p, Actor("t"))[0]["id"] for p in payloads}


def text_of(fragment):
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def csrf_from(page_html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def ledger_titles(page_html):
    """The titles of #ledger's rows, in page order."""
    table = page_html.split('id="ledger"', 1)[1].split("</table>", 1)[0]
    return [text_of(t) for t in re.findall(r'<a href="/events/\d+">(.*?)</a>', table, re.S)]


def field_error(page_html, field, prefix="f-"):
    """The message shown right next to a field (its aria-describedby target), or None."""
    match = re.search(r'<p class="field-error" id="%s%s-error">(.*?)</p>' % (prefix, re.escape(field)), page_html, re.S)
    return text_of(match.group(1)) if match else None


def input_value(page_html, name, prefix="f-"):
    match = re.search(r'<input type="[^"]+" id="%s%s" name="%s" value="([^"]*)"' % (prefix, name, name), page_html)
    assert match, "no input %s" % name
    return htmllib.unescape(match.group(1))


def link(page_html, element_id):
    match = re.search(r'<a [^>]*id="%s" href="([^"]+)"|<a href="([^"]+)"[^>]*id="%s"' % (element_id, element_id),
                      page_html)
    assert match, "no link #%s" % element_id
    return htmllib.unescape(match.group(1) or match.group(2))


def query_of(url):
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


@pytest.fixture
def ledger(app):
    return record_all(app, [
        {"title": "JDK 17.0.9 on linux-07", "type": "tool_update", "severity": "medium",
         "occurred_at": "2026-11-20T11:00:00Z", "agents": ["linux-07"], "tools": ["jdk-17"], "tags": ["jdk"]},
        {"title": "Docker 27.3 on linux-08", "type": "tool_update", "severity": "high",
         "occurred_at": "2026-11-20T09:00:00Z", "agents": ["linux-08"], "tools": ["docker"]},
        {"title": "linux-07 relabelled", "type": "agent_config", "severity": "low",
         "occurred_at": "2026-11-20T10:00:00Z", "agents": ["linux-07"], "source": "pipeline"},
        {"title": "Artifact proxy outage", "type": "outage", "severity": "critical",
         "occurred_at": "2026-11-19T08:00:00Z", "ended_at": "2026-11-19T08:40:00Z"},
    ])


# --------------------------------------------------------------------------- /events

def test_events_page_lists_the_ledger_newest_first(client, auth, ledger):
    auth.login("viewer", role="viewer")
    response = client.get("/events")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ledger_titles(html) == ["JDK 17.0.9 on linux-07", "linux-07 relabelled", "Docker 27.3 on linux-08",
                                   "Artifact proxy outage"]
    assert '<form class="stacked ledger-filters" method="get" action="/events"' in html
    assert 'href="/api/v1/events/export.csv"' in html  # no filters: the whole ledger
    assert "until" in html  # the outage's end
    assert "Record change" not in html  # viewers only read


def test_deep_link_by_agent_filters_and_fills_the_form(client, auth, ledger):
    auth.login("viewer", role="viewer")
    html = client.get("/events?agent=linux-07").get_data(as_text=True)
    assert ledger_titles(html) == ["JDK 17.0.9 on linux-07", "linux-07 relabelled"]
    assert input_value(html, "agent") == "linux-07"
    assert "1–2 of 2 events" in html


@pytest.mark.parametrize("query, titles", [
    ("agent=linux-07,+linux-08&type=tool_update", ["JDK 17.0.9 on linux-07", "Docker 27.3 on linux-08"]),
    ("agent=linux-07&agent=linux-08&severity=high&severity=low", ["linux-07 relabelled", "Docker 27.3 on linux-08"]),
    ("tool=docker", ["Docker 27.3 on linux-08"]),
    ("tag=jdk", ["JDK 17.0.9 on linux-07"]),
    ("source=pipeline", ["linux-07 relabelled"]),
    ("q=relabel", ["linux-07 relabelled"]),
    ("type=outage&type=agent_config&sort=occurred_at", ["Artifact proxy outage", "linux-07 relabelled"]),
    ("sort=-severity", ["Artifact proxy outage", "Docker 27.3 on linux-08", "JDK 17.0.9 on linux-07",
                        "linux-07 relabelled"]),
    # datetime-local values carry no offset: they mean UTC
    ("from=2026-11-20T09:30&to=2026-11-20T10:30", ["linux-07 relabelled"]),
    ("from=2026-11-20T09:30:00Z", ["JDK 17.0.9 on linux-07", "linux-07 relabelled"]),
    ("agent=&tool=&q=&from=&to=&sort=-occurred_at&limit=100", ["JDK 17.0.9 on linux-07", "linux-07 relabelled",
                                                               "Docker 27.3 on linux-08", "Artifact proxy outage"]),
])
def test_filters(client, auth, ledger, query, titles):
    auth.login("viewer", role="viewer")
    response = client.get("/events?" + query)
    assert response.status_code == 200
    assert ledger_titles(response.get_data(as_text=True)) == titles


def test_the_form_shows_what_was_asked(client, auth, ledger):
    auth.login("viewer", role="viewer")
    html = client.get("/events?agent=linux-07,linux-08&severity=high&type=outage&from=2026-11-20T09:30"
                      "&to=2026-11-21T00:00:00%2B02:00&q=jdk&sort=title&source=poller").get_data(as_text=True)
    assert input_value(html, "agent") == "linux-07, linux-08"
    assert input_value(html, "q") == "jdk"
    assert input_value(html, "from") == "2026-11-20T09:30"
    assert input_value(html, "to") == "2026-11-20T22:00"  # shown in UTC, as the label says
    assert '<input type="checkbox" name="severity" value="high" checked>' in html
    assert '<input type="checkbox" name="type" value="outage" checked>' in html
    assert '<option value="title" selected>' in html
    assert '<details class="more-filters" open>' in html  # source is set: the panel holding it is open


@pytest.mark.parametrize("query, field, message", [
    ("from=yesterday", "from", "Not a valid ISO 8601 datetime. You sent “yesterday”."),
    ("from=2026-11-21T00:00&to=2026-11-20T00:00", "from", "Must not be after 'to'."),
    ("severity=urgent", "severity", "Item 1: Must be one of: info, low, medium, high, critical."),
    ("type=note&type=upgrade", "type", "Item 2: Must be one of"),
    ("source=email", "source", "Item 1: Must be one of"),
    ("sort=random", "sort", "Must be one of: -occurred_at, occurred_at, severity, -severity, title."),
    ("limit=0", "limit", "Must be greater than or equal to 1 and less than or equal to 500."),
    ("limit=many", "limit", "Not a valid integer."),
    ("q=" + "x" * 201, "q", "Longer than maximum length 200."),
    ("agent=" + "a" * 201, "agent", "Item 1: Length must be between 1 and 200."),
    # No such instant in UTC: refused next to the field, the form still shows what was sent.
    ("from=0001-01-01T00:30:00%2B01:00", "from", "Out of range: in UTC it must fall between 0001-01-01 and 9999-12-31."),
    ("to=9999-12-31T23:30:00-01:00", "to", "Out of range: in UTC"),
    ("limit=%E0%A5%AB", "limit", "Not a valid integer."),  # ५: a digit to Python's int(), not to us
])
def test_bad_filters_answer_422_with_the_form_and_the_message_next_to_the_field(client, auth, ledger, query, field,
                                                                                 message):
    auth.login("viewer", role="viewer")
    response = client.get("/events?" + query)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="ledger-filters"' in html and 'id="f-error-summary"' in html
    assert message in field_error(html, field)
    assert '<a href="#f-%s">' % field in html  # the summary leads to the field
    assert "Fix the filters above to see events." in html
    assert "Download CSV" not in html
    assert "['" not in html and "[&#39;" not in html


def test_a_bad_cursor_is_explained_in_the_summary(client, auth, ledger):
    auth.login("viewer", role="viewer")
    response = client.get("/events?cursor=garbage&agent=linux-07")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "cursor" in html and "Not a cursor this API issued" in html
    assert input_value(html, "agent") == "linux-07"


def test_older_link_pages_with_the_cursor_and_keeps_the_filters(client, auth, app):
    record_all(app, [{"title": "change %d" % i, "agents": ["linux-07" if i % 2 else "linux-08"],
                      "occurred_at": "2026-11-20T%02d:00:00Z" % i} for i in range(1, 12)])
    auth.login("viewer", role="viewer")
    seen, url = [], "/events?agent=linux-07&limit=2&from=2026-11-20T00:00"
    for _ in range(5):
        html = client.get(url).get_data(as_text=True)
        seen.append(ledger_titles(html))
        if 'id="next-page"' not in html:
            break
        url = link(html, "next-page")
        query = query_of(url)
        assert query["agent"] == ["linux-07"] and query["limit"] == ["2"]
        assert query["from"] == ["2026-11-20T00:00Z"] and query["cursor"]
        assert "Older →" in html
    assert seen == [["change 11", "change 9"], ["change 7", "change 5"], ["change 3", "change 1"]]
    assert "← Newest" in html and "5–6 of 6 events" in html
    newest = re.search(r'<a href="([^"]+)">← Newest</a>', html).group(1)
    assert "cursor" not in newest and "agent=linux-07" in newest


def test_csv_link_carries_the_query(client, auth, ledger):
    auth.login("viewer", role="viewer")
    html = client.get("/events?agent=linux-07,linux-08&type=tool_update&sort=title&limit=50&q=jdk"
                      "&from=2026-11-20T00:00").get_data(as_text=True)
    url = link(html, "download-csv")
    assert urlsplit(url).path == "/api/v1/events/export.csv"
    assert query_of(url) == {"agent": ["linux-07", "linux-08"], "type": ["tool_update"], "q": ["jdk"],
                             "from": ["2026-11-20T00:00Z"]}  # paging arguments mean nothing to an export
    export = client.get(url)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [r["title"] for r in rows] == ["JDK 17.0.9 on linux-07"]


def test_save_the_current_search_and_find_it_listed(client, auth, ledger):
    auth.login("viewer", role="viewer")
    html = client.get("/events?agent=linux-07&type=tool_update&cursor=").get_data(as_text=True)
    hidden = re.search(r'<input type="hidden" name="query" value="([^"]*)">', html).group(1)
    assert htmllib.unescape(hidden) == "agent=linux-07&type=tool_update"
    response = client.post("/events/saved-searches", data={
        "csrf_token": csrf_from(html), "name": "JDK on linux-07", "query": htmllib.unescape(hidden)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/events?agent=linux-07&type=tool_update"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved the search “JDK on linux-07”." in page
    listed = re.search(r'<ul class="saved-list" id="saved-searches">(.*?)</ul>', page, re.S).group(1)
    assert '<a href="/events?agent=linux-07&amp;type=tool_update">JDK on linux-07</a>' in listed
    assert 'class="current"' in listed


def test_saved_searches_list_shared_ones_of_others_without_a_delete_button(client, auth, app, ledger):
    owner = auth.user("alice", "editor")
    with connected(app):
        SavedSearch.create(user=owner.id, name="Outages", query="type=outage", shared=True)
        SavedSearch.create(user=owner.id, name="Private", query="type=note", shared=False)
    auth.login("viewer", role="viewer")
    html = client.get("/events").get_data(as_text=True)
    listed = re.search(r'<ul class="saved-list" id="saved-searches">(.*?)</ul>', html, re.S).group(1)
    assert "Outages" in listed and "shared by alice" in listed and "Private" not in listed
    assert "delete" not in listed


@pytest.mark.parametrize("name, status, message", [
    ("", 422, "Must not be blank."),
    ("   ", 422, "Must not be blank."),
    ("x" * 101, 422, "Length must be between 1 and 100."),
    ("Mine", 409, "Already taken."),
])
def test_a_search_not_saved_keeps_the_name_and_says_why(client, auth, app, ledger, name, status, message):
    auth.login("viewer", role="viewer")
    with connected(app):
        from app.models import User
        SavedSearch.create(user=User.get(User.username == "viewer").id, name="Mine", query="")
    html = client.get("/events?agent=linux-07").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "query": "agent=linux-07"}
    if name:
        data["name"] = name
    response = client.post("/events/saved-searches", data=data)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert message in (field_error(page, "name", prefix="s-") or "")
    assert input_value(page, "name", prefix="s-") == name
    assert ledger_titles(page) == ["JDK 17.0.9 on linux-07", "linux-07 relabelled"]  # the search is still on screen
    with connected(app):
        assert SavedSearch.select().count() == 1


def test_delete_own_saved_search(client, auth, app, ledger):
    auth.login("viewer", role="viewer")
    html = client.get("/events").get_data(as_text=True)
    client.post("/events/saved-searches", data={"csrf_token": csrf_from(html), "name": "Mine", "query": "q=jdk"})
    html = client.get("/events?q=jdk").get_data(as_text=True)
    action = re.search(r'<form method="post" action="(/events/saved-searches/\d+/delete)"', html).group(1)
    response = client.post(action, data={"csrf_token": csrf_from(html), "back": "q=jdk"})
    assert response.status_code == 303 and response.headers["Location"] == "/events?q=jdk"
    assert "Deleted the saved search “Mine”." in client.get("/events?q=jdk").get_data(as_text=True)
    with connected(app):
        assert SavedSearch.select().count() == 0


def test_nobody_deletes_someone_elses_shared_search(client, auth, app):
    owner = auth.user("alice", "editor")
    with connected(app):
        search = SavedSearch.create(user=owner.id, name="Outages", query="type=outage", shared=True)
    auth.login("viewer", role="viewer")
    html = client.get("/events").get_data(as_text=True)
    response = client.post("/events/saved-searches/%d/delete" % search.id, data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    assert "Only its owner or an admin" in client.get("/events").get_data(as_text=True)
    with connected(app):
        assert SavedSearch.select().count() == 1


# --------------------------------------------------------------------------- /events/new

def new_event_form(client):
    html = client.get("/events/new").get_data(as_text=True)
    return html, {"csrf_token": csrf_from(html)}


def test_new_event_form_defaults_to_now_in_utc(client, auth):
    auth.login("editor", role="editor")
    response = client.get("/events/new")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = datetime.strptime(input_value(html, "occurred_at"), "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - shown) < timedelta(minutes=2)
    assert '<option value="note" selected>' in html and '<option value="info" selected>' in html
    assert re.search(r'id="f-title" name="title" value="" maxlength="200" required[^>]* autofocus>', html)
    assert 'class="button nav-record" href="/events/new"' in html  # the nav offers it to editors


def test_new_event_form_can_be_prefilled_by_a_link(client, auth):
    auth.login("editor", role="editor")
    html = client.get("/events/new?agents=linux-07&type=agent_config&occurred_at=2026-11-20T10:00:00Z"
                      ).get_data(as_text=True)
    assert input_value(html, "agents") == "linux-07"
    assert input_value(html, "occurred_at") == "2026-11-20T10:00"
    assert '<option value="agent_config" selected>' in html


def test_record_an_event_through_the_form(client, auth, app):
    auth.login("editor", role="editor")
    _, data = new_event_form(client)
    response = client.post("/events/new", data={
        **data, "title": "  Relabelled linux-07 by hand ", "type": "agent_config", "severity": "medium",
        "occurred_at": "2026-11-20T10:15", "ended_at": "", "agents": "linux-07, linux-08,,", "tools": "",
        "toolchains": "java-build", "tags": "manual, labels", "description": "Added docker\r\nlabel",
        "build_url": "", "links": "https://tickets.example.com/OPS-12 Change ticket\r\n\r\nhttps://wiki.example.com/x\r\n"})
    assert response.status_code == 303
    event_id = int(re.fullmatch(r"/events/(\d+)", response.headers["Location"]).group(1))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Recorded “Relabelled linux-07 by hand”." in page
    with connected(app):
        from app.ledger.events import get_event
        event = get_event(event_id)
        assert AuditEntry.select().where(AuditEntry.entity_id == str(event_id), AuditEntry.action == "create").count() == 1
    assert event["title"] == "Relabelled linux-07 by hand"
    assert event["source"] == "manual" and event["created_by"] == "editor"
    assert event["occurred_at"] == datetime(2026, 11, 20, 10, 15, tzinfo=timezone.utc)
    assert event["ended_at"] is None
    assert event["agents"] == ["linux-07", "linux-08"] and event["toolchains"] == ["java-build"]
    assert event["tags"] == ["labels", "manual"]
    assert event["description"] == "Added docker\nlabel"
    assert event["links"] == [{"url": "https://tickets.example.com/OPS-12", "text": "Change ticket"},
                              {"url": "https://wiki.example.com/x", "text": ""}]


GOOD_EVENT = {"title": "Maintenance", "type": "maintenance", "severity": "low", "occurred_at": "2026-11-20T10:00",
              "ended_at": "2026-11-20T11:00", "agents": "linux-07", "tools": "jdk-17", "toolchains": "", "tags": "x",
              "description": "keep <me>", "build_url": "http://jenkins:8080/job/infra/1/", "links": ""}


@pytest.mark.parametrize("change, field, message", [
    ({"title": ""}, "title", "Length must be between 1 and 200."),
    ({"title": "x" * 201}, "title", "Length must be between 1 and 200."),
    ({"type": "upgrade"}, "type", "Must be one of: agent_config"),
    ({"severity": "urgent"}, "severity", "Must be one of: info, low"),
    ({"occurred_at": "yesterday"}, "occurred_at", "Not a valid ISO 8601 datetime. You sent “yesterday”."),
    ({"ended_at": "2026-11-20T09:00"}, "ended_at", "Must not be before occurred_at."),
    ({"build_url": "jenkins/job/1"}, "build_url", "Not a valid URL."),
    ({"links": "https://ok.example.com ok\nnot-a-url text"}, "links", "Line 2: Not a valid URL."),
    ({"agents": "linux-07, " + "a" * 201}, "agents", "Item 2: Must be 1 to 200 characters."),
    ({"agents": "linux-07, a/../b"}, "agents", "Item 2: Must not be '.' or '..'"),
    ({"tools": "jdk//17"}, "tools", "Item 1: Must not start or end with '/' or contain '//'"),
    ({"occurred_at": "0001-01-01T00:30:00+01:00"}, "occurred_at", "Out of range: in UTC"),
])
def test_a_rejected_event_keeps_every_value_and_says_what_is_wrong_next_to_the_field(client, auth, app, change, field,
                                                                                      message):
    auth.login("editor", role="editor")
    _, data = new_event_form(client)
    form = dict(GOOD_EVENT, **change)
    response = client.post("/events/new", data={**data, **form})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert 'id="f-error-summary"' in html and '<a href="#f-%s">' % field in html
    assert re.search(r'id="f-%s" name="%s"[^>]*aria-invalid="true"[^>]*autofocus' % (field, field), html)
    for name in ("title", "agents", "tools", "tags", "build_url"):
        if name != field or field == "title":
            assert input_value(html, name) == form[name]
    assert "keep &lt;me&gt;</textarea>" in html
    with connected(app):
        assert Event.select().count() == 0


def test_new_event_needs_the_csrf_token(client, auth, app):
    auth.login("editor", role="editor")
    response = client.post("/events/new", data=dict(GOOD_EVENT))
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    with connected(app):
        assert Event.select().count() == 0


# --------------------------------------------------------------------------- access

@pytest.mark.parametrize("path, viewer_status", [
    ("/events", 200), ("/suspects", 200), ("/events/new", 403), ("/import", 403)])
def test_who_may_open_the_ledger_pages(client, auth, path, viewer_status):
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and urlsplit(anonymous.headers["Location"]).path == "/login"
    auth.login("viewer", role="viewer")
    assert client.get(path).status_code == viewer_status
    auth.logout()
    auth.login("editor", role="editor")
    assert client.get(path).status_code == 200


def test_viewers_may_not_post_events_or_imports(client, auth, app):
    auth.login("viewer", role="viewer")
    token = csrf_from(client.get("/events").get_data(as_text=True))
    assert client.post("/events/new", data=dict(GOOD_EVENT, csrf_token=token)).status_code == 403
    upload = {"csrf_token": token, "file": (io.BytesIO(b"title\nx\n"), "x.csv")}
    assert client.post("/import", data=upload, content_type="multipart/form-data").status_code == 403
    with connected(app):
        assert Event.select().count() == 0


def test_the_nav_links_the_pages_each_role_may_use(client, auth):
    auth.login("viewer", role="viewer")
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", client.get("/").get_data(as_text=True), re.S).group(1)
    assert 'href="/events"' in nav and 'href="/suspects"' in nav
    assert 'href="/import"' not in nav and 'href="/events/new"' not in nav
    auth.logout()
    auth.login("editor", role="editor")
    nav = re.search(r"<nav[^>]*>(.*?)</nav>", client.get("/").get_data(as_text=True), re.S).group(1)
    assert 'href="/import"' in nav and 'href="/events/new"' in nav


# --------------------------------------------------------------------------- /suspects

FAILED_AT = "2026-11-20T12:00:00Z"


@pytest.fixture
def failure(app):
    return record_all(app, [
        {"title": "Build 42 started", "source": "pipeline", "build_url": BUILD, "agents": ["linux-07"],
         "occurred_at": "2026-11-20T11:58:00Z"},
        {"title": "JDK 17.0.9 on linux-07", "type": "tool_update", "severity": "medium",
         "occurred_at": "2026-11-20T11:00:00Z", "agents": ["linux-07"], "tools": ["jdk-17"]},
        {"title": "JDK 17.0.9 on linux-08", "type": "tool_update", "occurred_at": "2026-11-20T11:15:00Z",
         "agents": ["linux-08"], "tools": ["jdk-17"]},
        {"title": "Artifact proxy outage", "type": "outage", "severity": "critical",
         "occurred_at": "2026-11-20T08:00:00Z"},
        {"title": "Python on linux-09", "type": "tool_update", "occurred_at": "2026-11-20T11:55:00Z",
         "agents": ["linux-09"], "tools": ["python"]},
    ])


def suspect_rows(page_html):
    """(rank, title, reasons text) of each row of #suspects, best first."""
    table = page_html.split('id="suspects"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-event-id="\d+" data-rank="(\w+)"[^>]*>(.*?)</tr>', table, re.S)
    return [(rank, text_of(re.search(r'<a href="/events/\d+">(.*?)</a>', row, re.S).group(1)),
             text_of(row.split('<ul class="reasons">', 1)[1])) for rank, row in rows]


def test_suspects_page_without_a_query_shows_only_the_form(client, auth):
    auth.login("viewer", role="viewer")
    response = client.get("/suspects")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="suspects-form"' in html and 'id="f-error-summary"' not in html and 'id="suspects"' not in html
    assert re.search(r'id="f-build_url" name="build_url"[^>]* autofocus', html)


def test_suspects_by_build_url_finds_the_agent_and_ranks_the_changes(client, auth, failure):
    auth.login("viewer", role="viewer")
    response = client.get("/suspects", query_string={"build_url": BUILD, "before": FAILED_AT})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = suspect_rows(html)
    assert [(rank, title) for rank, title, _ in rows] == [
        ("same_agent", "JDK 17.0.9 on linux-07"),
        ("same_agent", "Build 42 started"),  # a note: after the changes of its rank
        ("same_tool", "JDK 17.0.9 on linux-08"),
        ("fleet_wide", "Artifact proxy outage"),
    ]
    assert "same agent linux-07" in rows[0][2] and "recorded by this build" in rows[1][2]
    assert "same tool jdk-17 as recent changes on linux-07" in rows[2][2]
    assert "1h before the failure" in html and "4h before the failure" in html
    scope = text_of(html.split('id="suspects-scope">', 1)[1].split("</p>", 1)[0])
    assert "on linux-07 (the build's agent)" in scope and "from 2026-11-13 12:00 to 2026-11-20 12:00 UTC" in scope
    assert input_value(html, "build_url") == BUILD and input_value(html, "before") == "2026-11-20T12:00"
    every = re.search(r'<a href="([^"]+)">Every change on this agent in this period</a>', html).group(1)
    assert query_of(htmllib.unescape(every)) == {"agent": ["linux-07"], "from": ["2026-11-13T12:00:00Z"],
                                                 "to": ["2026-11-20T12:00:00Z"]}
    assert 'href="/events/%d"' % failure["JDK 17.0.9 on linux-07"] in html


def test_suspects_deep_link_by_agent_and_before(client, auth, failure):
    auth.login("viewer", role="viewer")
    html = client.get("/suspects?agent=linux-09&before=2026-11-20T11:56:00Z&since=2026-11-20T11:00").get_data(as_text=True)
    assert [(r, t) for r, t, _ in suspect_rows(html)] == [("same_agent", "Python on linux-09")]
    assert input_value(html, "since") == "2026-11-20T11:00" and input_value(html, "agent") == "linux-09"
    permalink = query_of(htmllib.unescape(link(html, "permalink")))
    assert permalink == {"agent": ["linux-09"], "since": ["2026-11-20T11:00:00Z"], "before": ["2026-11-20T11:56:00Z"]}


def test_suspects_without_before_mean_now_and_the_permalink_pins_it(client, auth, app):
    recent = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    record_all(app, [{"title": "fresh change", "agents": ["linux-07"], "occurred_at": recent}])
    auth.login("viewer", role="viewer")
    html = client.get("/suspects?agent=linux-07").get_data(as_text=True)
    assert [t for _, t, _ in suspect_rows(html)] == ["fresh change"]
    pinned = query_of(htmllib.unescape(link(html, "permalink")))["before"][0]
    assert abs(datetime.fromisoformat(pinned) - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert input_value(html, "before") == ""  # what the user left empty stays empty


def test_unknown_build_agent_asks_for_the_agent_next_to_its_field(client, auth, failure):
    auth.login("viewer", role="viewer")
    response = client.get("/suspects", query_string={"build_url": "http://jenkins:8080/job/app/43/"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The build's agent is unknown" in field_error(html, "build_url")
    assert "Which agent ran the build?" in html
    assert re.search(r'id="f-agent" name="agent"[^>]* autofocus', html)
    assert input_value(html, "build_url") == "http://jenkins:8080/job/app/43/"


@pytest.mark.parametrize("query, field, message", [
    ("agent=&build_url=&tool=&before=&since=", "agent", "Name the failed build's agent (agent=), its build_url= or a tool=."),
    ("agent=linux-07&before=soon", "before", "Not a valid ISO 8601 datetime. You sent “soon”."),
    ("agent=linux-07&before=2026-11-20T12:00&since=2026-11-21T00:00", "since", "Must be before 'before'"),
    ("agent=linux-07&before=2026-11-20T12:00&since=2026-01-01T00:00", "since", "Must be at most 90 days before"),
    ("build_url=not-a-url", "build_url", "Not a valid URL."),
    ("agent=linux-07&before=0001-01-01T00:30:00%2B01:00", "before", "Out of range: in UTC"),
    ("agent=linux-07&before=2026-11-20T12:00Z&since=9999-12-31T23:30:00-01:00", "since", "Out of range: in UTC"),
])
def test_bad_suspect_queries_answer_422_with_the_message_next_to_the_field(client, auth, query, field, message):
    auth.login("viewer", role="viewer")
    response = client.get("/suspects?" + query)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert 'id="suspects-form"' in html
    assert "Which agent ran the build?" not in html  # only asked when a real build URL names no agent


def test_no_suspects_says_so(client, auth, failure):
    auth.login("viewer", role="viewer")
    html = client.get("/suspects?agent=linux-99&before=2026-11-20T07:00:00Z").get_data(as_text=True)
    assert 'id="no-suspects"' in html and "0 suspects" in html


# --------------------------------------------------------------------------- agent names with commas

@pytest.mark.parametrize("values, whole, names", [
    (["linux-07, linux-08"], set(), ["linux-07", "linux-08"]),
    (["linux,07"], set(), ["linux", "07"]),
    (["linux,07"], {"linux,07"}, ["linux,07"]),
    (["a, linux,07, b"], {"linux,07"}, ["a", "linux,07", "b"]),
    (["mac,os,arm", "mac"], {"mac,os", "mac,os,arm"}, ["mac,os,arm", "mac"]),  # the longest run wins
    (["x ,, y,", "y"], set(), ["x", "y"]),
])
def test_split_names_keeps_known_names_with_commas_whole(values, whole, names):
    from app.web.form_input import split_names

    assert split_names(values, frozenset(whole)) == names


def test_an_agent_named_with_a_comma_is_one_agent_on_every_page(client, auth, app):
    """Jenkins allows commas in node names; its links send /events?agent=<name> and /suspects?agent=<name>,
    and a form lists names comma-separated."""
    record_all(app, [
        {"title": "JDK on the comma agent", "agents": ["linux,07"], "occurred_at": "2026-11-20T11:00:00Z"},
        {"title": "JDK on linux", "agents": ["linux"], "occurred_at": "2026-11-20T11:10:00Z"},
        {"title": "JDK on 07", "agents": ["07"], "occurred_at": "2026-11-20T11:20:00Z"},
    ])
    auth.login("editor", role="editor")
    assert ledger_titles(client.get("/events?agent=linux,07").get_data(as_text=True)) == ["JDK on the comma agent"]
    html = client.get("/events?agent=linux,07,+07").get_data(as_text=True)
    assert ledger_titles(html) == ["JDK on 07", "JDK on the comma agent"]
    html = client.get("/suspects?agent=linux,07&before=2026-11-20T12:00:00Z").get_data(as_text=True)
    assert [t for _, t, _ in suspect_rows(html)] == ["JDK on the comma agent"]
    assert input_value(html, "agent") == "linux,07"
    assert query_of(htmllib.unescape(link(html, "permalink")))["agent"] == ["linux,07"]

    form = client.get("/events/new").get_data(as_text=True)
    response = client.post("/events/new", data={
        "csrf_token": csrf_from(form), "title": "Relabelled", "type": "agent_config", "severity": "low",
        "occurred_at": "2026-11-20T11:30", "agents": "linux,07, linux", "tools": "", "toolchains": "", "tags": "",
        "description": "", "ended_at": "", "build_url": "", "links": ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    with connected(app):
        from app.ledger.events import get_event

        created = Event.get(Event.title == "Relabelled")
        assert get_event(created.id)["agents"] == ["linux", "linux,07"]


# --------------------------------------------------------------------------- related changes on /events/<id>

def test_event_page_lists_related_changes_with_reasons(client, auth, app):
    ids = record_all(app, [
        {"title": "JDK on linux-07", "occurred_at": "2026-11-20T10:00:00Z", "agents": ["linux-07"], "tools": ["jdk-17"]},
        {"title": "Maven on linux-07", "occurred_at": "2026-11-20T12:30:00Z", "agents": ["linux-07"]},
        {"title": "JDK on linux-08", "occurred_at": "2026-11-20T08:00:00Z", "agents": ["linux-08"], "tools": ["jdk-17"]},
        {"title": "Far away", "occurred_at": "2026-11-23T10:00:00Z", "agents": ["linux-07"]},
        {"title": "Unrelated", "occurred_at": "2026-11-20T10:00:00Z", "agents": ["win-01"]},
    ])
    auth.login("viewer", role="viewer")
    html = client.get("/events/%d" % ids["JDK on linux-07"]).get_data(as_text=True)
    section = html.split('<section id="related">', 1)[1].split("</section>", 1)[0]
    rows = [text_of(r) for r in re.findall(r"<tr data-event-id=\"\d+\">(.*?)</tr>", section, re.S)]
    assert len(rows) == 2
    assert "JDK on linux-08" in rows[0] and "2h earlier" in rows[0] and "same tool jdk-17" in rows[0]
    assert "Maven on linux-07" in rows[1] and "2h 30m later" in rows[1] and "same agent linux-07" in rows[1]
    lonely = client.get("/events/%d" % ids["Unrelated"]).get_data(as_text=True)
    assert "No other change on the same agents, tools or toolchains within 24 hours." in lonely
