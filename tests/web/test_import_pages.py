"""/import over the Flask test client: upload, a report of every row, then confirm; nothing written before that."""
import csv
import html as htmllib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app.ledger.csv_exchange import COLUMNS
from app.models import AuditEntry, Event
from app.web import csv_exchange as import_page
from tests.conftest import connected

GOOD_CSV = (b"title,type,severity,occurred_at,agents,tags\n"
            b"JDK 17.0.9,tool_update,low,2026-11-20T10:00:00Z,linux-01;linux-02,jdk\n"
            b"Proxy outage,outage,critical,2026-11-20T11:00:00Z,,\n")
BAD_CSV = (b"title,type,severity,occurred_at\n"
           b"fine,note,info,2026-11-20T10:00:00Z\n"
           b",note,urgent,2026-11-20T10:00:00Z\n"
           b"bad time,note,info,yesterday\n")


def text_of(fragment):
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def csrf_from(page_html):
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def element(page_html, element_id):
    match = re.search(r'<(\w+)[^>]*id="%s"[^>]*>(.*?)</\1>' % re.escape(element_id), page_html, re.S)
    return match and match.group(2)


def report_rows(page_html):
    """#import-report as [row number, check, title, problems text]."""
    table = element(page_html, "import-report") or ""
    found = []
    for row in re.findall(r'<tr class="row-\w+" data-row="\d+">(.*?)</tr>', table, re.S):
        cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        found.append([cells[0], cells[1], cells[2] if len(cells) == 8 else "", cells[-1]])
    return found


def checked_field(page_html):
    match = re.search(r'<input type="hidden" name="checked" value="([^"]+)">', page_html)
    return match and match.group(1)


def upload(client, content, filename="events.csv"):
    html = client.get("/import").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "file": (io.BytesIO(content), filename)}
    return client.post("/import", data=data, content_type="multipart/form-data")


def confirm(client, page_html, checked=None):
    return client.post("/import/confirm", data={"csrf_token": csrf_from(page_html),
                                                "checked": checked if checked is not None else checked_field(page_html)})


def events_written(app):
    with connected(app):
        return Event.select().count()


@pytest.fixture
def editor(auth):
    auth.login("editor", role="editor")
    return auth


def test_import_page_documents_the_format_and_offers_a_template(client, editor, app):
    assert set(import_page.COLUMN_HELP) == set(COLUMNS)
    html = client.get("/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and csrf_from(html)
    for column in COLUMNS:
        assert "<td><code>%s</code></td>" % column in html
    export = htmllib.unescape(re.search(r'<a href="([^"]+)" id="export-example"', html).group(1))
    assert urlsplit(export).path == "/api/v1/events/export.csv" and parse_qs(urlsplit(export).query)["from"]
    assert client.get(export).status_code == 200

    template = client.get("/import/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert "changetracker-import-template.csv" in template.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(template.get_data(as_text=True))))
    assert [r["title"] for r in rows] == ["JDK 17.0.8 → 17.0.9", "Artifact proxy unreachable"]
    assert set(rows[0]) <= set(COLUMNS)
    # The template itself is a valid file.
    checked = upload(client, template.get_data(), "changetracker-import-template.csv")
    assert checked.status_code == 200 and checked_field(checked.get_data(as_text=True))


def test_an_upload_is_checked_and_reported_row_by_row_and_nothing_is_written(client, editor, app):
    response = upload(client, GOOD_CSV)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert text_of(element(html, "import-valid")).startswith("events.csv: every row is valid 2 events will be recorded")
    assert "Nothing has been written yet." in html
    assert report_rows(html) == [["2", "ok", "JDK 17.0.9", ""], ["3", "ok", "Proxy outage", ""]]
    assert text_of(element(html, "confirm-import")) == "Import 2 events"
    assert 'id="import-form"' not in html  # the next step is to confirm, or cancel
    assert events_written(app) == 0
    with connected(app):
        assert AuditEntry.select().where(AuditEntry.action == "import").count() == 0


def test_confirming_records_every_row_once(client, editor, app):
    report = upload(client, GOOD_CSV).get_data(as_text=True)
    response = confirm(client, report)
    assert response.status_code == 303 and response.headers["Location"] == "/import?imported=2"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Imported 2 events from events.csv." in page and 'href="/events?source=import"' in page
    with connected(app):
        titles = {e.title: e for e in Event.select()}
    assert set(titles) == {"JDK 17.0.9", "Proxy outage"}
    assert all(e.source == "import" and e.created_by == "editor" for e in titles.values())

    again = confirm(client, report)  # back, and confirm once more
    assert again.status_code == 409
    assert "This file was imported already" in text_of(element(again.get_data(as_text=True), "f-error-summary"))
    assert events_written(app) == 2
    # Uploading the same file again says so, and importing it again needs a tick.
    second = upload(client, GOOD_CSV, filename="same.csv").get_data(as_text=True)
    assert "You imported this very file already" in text_of(element(second, "imported-before"))
    assert 'name="again" id="f-again" required' in second
    assert confirm(client, second).status_code == 409 and events_written(app) == 2
    ticked = client.post("/import/confirm", data={"csrf_token": csrf_from(second), "checked": checked_field(second),
                                                  "again": "on"})
    assert ticked.status_code == 303 and events_written(app) == 4


def test_a_file_with_a_bad_row_is_reported_and_cannot_be_confirmed(client, editor, app):
    response = upload(client, BAD_CSV, filename="bad.csv")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported: 2 rows have errors (rows 3, 4)." in html and "Nothing was written." in html
    rows = report_rows(html)
    assert [r[:3] for r in rows] == [["2", "ok", "fine"], ["3", "problem", ""], ["4", "problem", "bad time"]]
    assert rows[0][3] == "" and rows[2][3] == "occurred_at “yesterday” : Not a valid ISO 8601 datetime."
    assert sorted(re.findall(r"<li>(.*?)</li>", element(html, "import-report").split('data-row="3"')[1].split("</tr>")[0])) == [
        '<code>severity</code> <span class="value">“urgent”</span>: Must be one of: info, low, medium, high, critical.',
        "<code>title</code>: Length must be between 1 and 200."]
    assert "2 of 3 rows with problems" in text_of(element(html, "report-title"))
    assert checked_field(html) is None and 'id="confirm-import"' not in html
    assert "Fixed CSV file" in html  # the form for the corrected file
    assert events_written(app) == 0


def test_header_problems_are_row_1(client, editor, app):
    response = upload(client, b"name,when\nx,y\n")
    assert response.status_code == 422
    problems = text_of(element(response.get_data(as_text=True), "header-problems"))
    assert "Header (row 1), title : Missing column; every file needs it." in problems
    assert "Header (row 1), name : Unknown column" in problems


@pytest.mark.parametrize("content, filename, message", [
    (None, "", "Choose a CSV file to import."),
    ("tïtle\n".encode("latin-1"), "latin1.csv", "The file is not UTF-8"),
    ("title\nx\n".encode("utf-16"), "utf16.csv", "The file is UTF-16 text"),
])
def test_an_unusable_upload_is_explained_next_to_the_file_field(client, editor, app, content, filename, message):
    response = upload(client, content or b"", filename)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in text_of(element(page, "f-file-error"))
    assert events_written(app) == 0


def test_a_big_file_is_checked_and_shows_its_first_rows_and_every_bad_one(client, editor, app):
    app.config["MAX_CONTENT_LENGTH"] = 2000  # imports have their own, larger limit
    rows = b"".join(b"event %d,note\n" % i for i in range(1, 301))
    html = upload(client, b"title,type\n" + rows + b"late,urgent-ish\n").get_data(as_text=True)
    shown = report_rows(html)
    assert len(shown) == import_page.PREVIEW_ROWS + 1 and shown[-1][:2] == ["302", "problem"]
    assert "Showing 101 of 301 rows" in text_of(element(html, "report-shown"))

    good = upload(client, b"title,type\n" + rows).get_data(as_text=True)
    assert "300 events will be recorded" in text_of(element(good, "import-valid"))
    assert confirm(client, good).status_code == 303
    assert events_written(app) == 300


def test_a_check_cannot_be_altered_reused_by_someone_else_or_confirmed_late(client, editor, auth, app, monkeypatch):
    report = upload(client, GOOD_CSV).get_data(as_text=True)
    sealed = checked_field(report)
    for forged in ("", "x", sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")):
        refused = confirm(client, report, checked=forged)
        assert refused.status_code == 422 and "upload the file again" in refused.get_data(as_text=True)
    monkeypatch.setattr(import_page, "CHECK_VALID_SECONDS", -1)
    late = confirm(client, report)
    assert late.status_code == 422 and "more than an hour old" in late.get_data(as_text=True)
    monkeypatch.undo()
    auth.logout()
    auth.login("other-editor", role="editor")
    theirs = confirm(client, client.get("/import").get_data(as_text=True), checked=sealed)
    assert theirs.status_code == 422 and "belongs to another user" in theirs.get_data(as_text=True)
    assert events_written(app) == 0


def test_viewers_may_neither_check_nor_confirm(client, auth, app):
    auth.login("viewer", role="viewer")
    token = csrf_from(client.get("/events").get_data(as_text=True))
    upload_form = {"csrf_token": token, "file": (io.BytesIO(GOOD_CSV), "x.csv")}
    assert client.post("/import", data=upload_form, content_type="multipart/form-data").status_code == 403
    assert client.post("/import/confirm", data={"csrf_token": token, "checked": "x"}).status_code == 403
    assert events_written(app) == 0
