"""GET /api/v1/events/export.csv and POST /api/v1/events/import: what a platform engineer moving history sees."""
import csv
import io
import json
import time

import pytest
from werkzeug.datastructures import MultiDict

from app import create_app
from app.accounts.audit import Actor
from app.ledger import csv_exchange, filters
from app.ledger.events import record_event
from app.models import Agent, AuditEntry, Event, EventAgent
from tests.conftest import AuthActions, connected

CSV = {"Content-Type": "text/csv"}
TRICKY = [
    {"title": "JDK 17.0.9, rolled out on \"linux\" agents", "description": "line one\nline two\r\nline three, with commas",
     "type": "tool_update", "severity": "medium", "source": "pipeline", "occurred_at": "2026-11-20T10:15:00+01:00",
     "agents": ["linux-07", "linux-08"], "tools": ["jdk-17"], "toolchains": ["java-build"], "tags": ["jdk", "upgrade"],
     "changes": [{"path": "tools/jdk-17/home", "before": "/opt/jdk-17.0.8", "after": "/opt/jdk-17.0.9"}],
     "links": [{"url": "https://wiki.example.test/jdk", "text": "runbook, \"v2\""}],
     "build_url": "http://jenkins:8080/job/infra/42/", "metadata": {"job": "infra", "nested": {"n": [1, 2.5, None]}},
     "dedupe_key": "jdk:17.0.9"},
    {"title": "Größere Wartung – 東京 agents 🚧", "description": "Ümlaute, ñ, 日本語", "type": "maintenance",
     "severity": "high", "source": "manual", "occurred_at": "2026-11-18T08:00:00.123456Z",
     "ended_at": "2026-11-18T09:30:00Z", "agents": ["tokyo-01"], "metadata": {"owner": "Zoë"}},
    {"title": "=HYPERLINK(\"http://evil.test\",\"click\")", "description": "+1 for the upgrade", "type": "note",
     "source": "webhook", "occurred_at": "2026-11-18T08:00:00.123456Z", "tags": ["@oncall", "-x"],
     "metadata": {"cmd": "=1+1"}},
    {"title": "'=already quoted", "description": "'just a quote", "source": "poller",
     "occurred_at": "2026-11-18T08:00:00.123456Z", "agents": ["-dash-agent"]},
    {"title": "\tTabbed title", "description": "@mention at the start", "occurred_at": "2026-11-01T00:00:00Z"},
]


def export(client, headers, query=""):
    response = client.get("/api/v1/events/export.csv" + query, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def rows_of(response):
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8"), newline="")))


def write_csv(rows, header=csv_exchange.COLUMNS):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def import_csv(client, headers, body, query="", content_headers=CSV):
    return client.post("/api/v1/events/import" + query, data=body, headers={**headers, **content_headers})


def counts(app):
    with connected(app):
        return Event.select().count(), Agent.select().count(), AuditEntry.select().where(AuditEntry.action == "import").count()


@pytest.fixture
def ledger(app):
    """The TRICKY events, plus a rollback of the first, recorded through the one ingest function."""
    with connected(app):
        recorded = [record_event(body, Actor("seed"))[0] for body in TRICKY]
        record_event({"title": "Roll back JDK", "type": "rollback", "reverts": recorded[0]["id"],
                      "occurred_at": "2026-11-21T00:00:00Z", "agents": ["linux-07"]}, Actor("seed"))
    return recorded


@pytest.fixture
def empty_app(database_template, tmp_path):
    """Makes a second app on an empty database (on PostgreSQL: the same database, emptied), when called."""
    def make():
        (tmp_path / "empty").mkdir()
        return create_app({"TESTING": True, "ENV": "test", "DATABASE_URL": database_template(tmp_path / "empty"),
                           "SECRET_KEY": "test-secret-key"})
    return make


def test_export_is_an_attachment_with_the_documented_columns(client, auth, ledger):
    response = export(client, auth.headers("viewer", "read"))
    assert response.is_streamed
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="changetracker-events-')
    assert response.headers["Content-Disposition"].endswith('.csv"')
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["id", "title", "description", "type", "severity", "source", "occurred_at", "ended_at", "agents",
                      "tools", "toolchains", "tags", "changes", "links", "build_url", "metadata", "dedupe_key",
                      "reverts", "count", "first_seen", "last_seen", "created_by"]


def test_export_cells_quoting_times_lists_and_json(client, auth, ledger):
    response = export(client, auth.headers())
    raw = response.get_data()
    assert "Größere Wartung – 東京 agents 🚧".encode("utf-8") in raw  # UTF-8, not escaped
    rows = rows_of(response)
    assert [r["title"] for r in rows] == [  # newest first; ties on occurred_at by id, newest first
        "Roll back JDK", "JDK 17.0.9, rolled out on \"linux\" agents", "''=already quoted",
        "'=HYPERLINK(\"http://evil.test\",\"click\")", "Größere Wartung – 東京 agents 🚧", "'\tTabbed title"]
    rollback, jdk, upkeep = rows[0], rows[1], rows[4]
    assert jdk["description"] == "line one\nline two\r\nline three, with commas"
    assert jdk["occurred_at"] == "2026-11-20T09:15:00Z" and jdk["ended_at"] == ""
    assert upkeep["occurred_at"] == "2026-11-18T08:00:00.123456Z" and upkeep["ended_at"] == "2026-11-18T09:30:00Z"
    assert jdk["agents"] == "linux-07;linux-08" and jdk["tags"] == "jdk;upgrade" and jdk["toolchains"] == "java-build"
    assert json.loads(jdk["changes"]) == TRICKY[0]["changes"] and json.loads(jdk["links"]) == TRICKY[0]["links"]
    assert json.loads(jdk["metadata"]) == TRICKY[0]["metadata"]
    assert jdk["build_url"] == "http://jenkins:8080/job/infra/42/" and jdk["dedupe_key"] == "jdk:17.0.9"
    assert rollback["reverts"] == jdk["id"] and jdk["reverts"] == ""
    assert jdk["count"] == "1" and jdk["created_by"] == "seed" and jdk["first_seen"].endswith("Z")


@pytest.mark.parametrize("text, cell", [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
    ("+491701234567", "'+491701234567"),
    ("-2 agents", "'-2 agents"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tindented", "'\tindented"),
    ("\rreturn", "'\rreturn"),
    ("'=quoted already", "''=quoted already"),
    ("''+twice", "'''+twice"),
    ("'plain quote", "'plain quote"),
    ("a = b + c", "a = b + c"),
    ("plain", "plain"),
])
def test_formula_cells_are_defused_on_export_and_restored_on_import(client, auth, app, text, cell):
    headers = auth.headers()
    with connected(app):
        record_event({"title": text, "description": text, "agents": [text.strip() or "x"]}, Actor("seed"))
    exported = rows_of(export(client, headers))[0]
    assert exported["title"] == cell and exported["description"] == cell
    assert import_csv(client, headers, export(client, headers).get_data()).json == {"created": 1, "errors": []}
    imported = client.get("/api/v1/events?limit=1", headers=headers).json["items"][0]
    assert imported["title"] == text and imported["description"] == text
    assert imported["agents"] == [text.strip() or "x"]


def test_round_trip_into_an_empty_ledger_is_lossless(client, auth, ledger, empty_app):
    first = export(client, auth.headers()).get_data()

    empty = empty_app()
    other = AuthActions(empty, empty.test_client())
    headers = other.headers()
    response = import_csv(other.client, headers, first)
    assert response.status_code == 200, response.json
    assert response.json == {"created": 6, "errors": []}
    again = export(other.client, headers)

    def comparable(rows):
        titles = {r["id"]: r["title"] for r in rows}
        for row in rows:
            row["reverts"] = titles.get(row["reverts"])  # ids differ; what a row reverts must not
            for column in ("id", "created_by", "first_seen", "last_seen"):
                del row[column]
        return rows

    before, after = comparable(rows_of_bytes(first)), comparable(rows_of(again))
    assert after == before
    assert after[0]["reverts"] == "JDK 17.0.9, rolled out on \"linux\" agents"
    assert {r["created_by"] for r in rows_of(again)} == {"editor (token test)"}


def rows_of_bytes(raw):
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))


def test_names_are_sorted_as_the_api_lists_them_and_kept_whole(client, auth, app, empty_app):
    headers = auth.headers()
    with connected(app):
        created, _ = record_event({"title": "Relabel", "agents": ["zulu-9", "alpha \"quoted\", x", "mike"],
                                   "tools": ["maven", "jdk-21"], "tags": ["zeta", "Ünïcode", "beta"]}, Actor("seed"))
    first = export(client, headers).get_data()
    row = rows_of_bytes(first)[0]
    event = client.get("/api/v1/events/%d" % created["id"], headers=headers).json
    assert row["agents"] == "alpha \"quoted\", x;mike;zulu-9"
    for column in ("agents", "tools", "toolchains", "tags"):
        assert row[column] == ";".join(event[column])
    assert row["toolchains"] == ""

    empty = empty_app()
    other = AuthActions(empty, empty.test_client())
    assert import_csv(other.client, other.headers(), first).json == {"created": 1, "errors": []}
    copy = other.client.get("/api/v1/events", headers=other.headers()).json["items"][0]
    assert {column: copy[column] for column in ("agents", "tools", "toolchains", "tags")} == {
        column: event[column] for column in ("agents", "tools", "toolchains", "tags")}


def test_names_created_while_an_export_runs_are_written(app):
    with connected(app):
        record_event({"title": "new", "occurred_at": "2026-11-02T00:00:00Z", "agents": ["linux-01"]}, Actor("t"))
        record_event({"title": "old", "occurred_at": "2026-11-01T00:00:00Z", "agents": ["linux-01"]}, Actor("t"))
        chunks = csv_exchange.export_rows(filters.parse(MultiDict()), batch_size=1)
        written = [next(chunks), next(chunks)]  # the header and "new": the agents' names are read
        record_event({"title": "older", "occurred_at": "2026-10-01T00:00:00Z", "agents": ["zz-07", "linux-01"],
                      "tags": ["late"]}, Actor("t"))
        written.extend(chunks)
    rows = list(csv.DictReader(io.StringIO("".join(written))))
    assert [(r["title"], r["agents"], r["tags"]) for r in rows] == [
        ("new", "linux-01", ""), ("old", "linux-01", ""), ("older", "linux-01;zz-07", "late")]


def test_an_event_with_nothing_but_a_title_exports_empty_lists_and_json(client, auth, app):
    headers = auth.headers()
    with connected(app):
        record_event({"title": "Just a note"}, Actor("seed"))
    row = rows_of(export(client, headers))[0]
    assert {column: row[column] for column in ("agents", "tools", "toolchains", "tags", "ended_at", "build_url",
                                               "dedupe_key", "reverts")} == dict.fromkeys(
        ("agents", "tools", "toolchains", "tags", "ended_at", "build_url", "dedupe_key", "reverts"), "")
    assert (row["changes"], row["links"], row["metadata"]) == ("[]", "[]", "{}")
    assert (row["type"], row["severity"], row["source"], row["count"]) == ("note", "info", "manual", "1")


METADATA = {"owner": "Zoë 🚧", "said": "\"hi\", then =1+1", "lines": "a\nb\r\nc", "ratio": 2.5, "tiny": 1e-07,
            "big": 2 ** 53 + 1, "negative": -3, "nested": {"list": [None, True, False, ""], "empty": {}}}
CHANGES = [{"path": "tools/jdk/home", "before": None, "after": {"paths": ["/opt/a", "/opt/b"], "n": 1.0}}]
LINKS = [{"url": "https://wiki.example.test/runbook?id=7&lang=de", "text": "Ablauf, \"v2\""}]


def test_json_cells_are_compact_utf8_json_and_survive_the_round_trip(client, auth, app, empty_app):
    headers = auth.headers()
    with connected(app):
        record_event({"title": "JSON", "metadata": METADATA, "changes": CHANGES, "links": LINKS}, Actor("seed"))
    first = export(client, headers).get_data()
    row = rows_of_bytes(first)[0]
    for column, value in (("metadata", METADATA), ("changes", CHANGES), ("links", LINKS)):
        assert row[column] == json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    empty = empty_app()
    other = AuthActions(empty, empty.test_client())
    assert import_csv(other.client, other.headers(), first).json == {"created": 1, "errors": []}
    copy = other.client.get("/api/v1/events", headers=other.headers()).json["items"][0]
    assert (copy["metadata"], copy["changes"], copy["links"]) == (METADATA, CHANGES, LINKS)
    again = rows_of(export(other.client, other.headers()))[0]
    assert [again[c] for c in ("metadata", "changes", "links")] == [row[c] for c in ("metadata", "changes", "links")]


def test_export_applies_the_list_filters_and_ignores_paging(client, auth, app, ledger):
    headers = auth.headers()
    titles = lambda query: [r["title"] for r in rows_of(export(client, headers, query))]  # noqa: E731
    assert titles("?agent=linux-07") == ["Roll back JDK", "JDK 17.0.9, rolled out on \"linux\" agents"]
    assert titles("?type=maintenance&type=tool_update") == [
        "JDK 17.0.9, rolled out on \"linux\" agents", "Größere Wartung – 東京 agents 🚧"]
    assert titles("?from=2026-11-19T00:00:00Z&to=2026-11-21T00:00:00Z") == ["JDK 17.0.9, rolled out on \"linux\" agents"]
    assert titles("?tag=%40oncall&source=webhook") == ["'=HYPERLINK(\"http://evil.test\",\"click\")"]
    assert titles("?q=Wartung") == ["Größere Wartung – 東京 agents 🚧"]
    assert titles("?tool=jdk-17") == titles("?toolchain=java-build") == ["JDK 17.0.9, rolled out on \"linux\" agents"]
    assert titles("?severity=high") == ["Größere Wartung – 東京 agents 🚧"]
    with connected(app):
        Agent.update(labels=["asia"]).where(Agent.name == "tokyo-01").execute()
    assert titles("?label=asia") == ["Größere Wartung – 東京 agents 🚧"]
    assert len(titles("?limit=1&sort=title&cursor=whatever")) == 6  # paging belongs to the JSON list
    refused = client.get("/api/v1/events/export.csv?from=yesterday", headers=headers)
    assert refused.status_code == 422 and refused.json["errors"]["from"] == ["Not a valid ISO 8601 datetime."]


@pytest.mark.parametrize("events, batches", [(7, 4), (6, 3), (0, 0)])
def test_export_walks_the_ledger_in_keyset_batches(app, events, batches):
    with connected(app):
        for n in range(events):  # ties on occurred_at across batch boundaries
            record_event({"title": "event %d" % n, "occurred_at": "2026-11-0%dT00:00:00Z" % (1 + n // 3)}, Actor("t"))
        chunks = list(csv_exchange.export_rows(filters.parse(MultiDict()), batch_size=2))
    assert len(chunks) == 1 + batches  # the header, then one chunk per batch of 2
    ids = [int(r["id"]) for r in csv.DictReader(io.StringIO("".join(chunks)))]
    with connected(app):
        expected = [e.id for e in Event.select().order_by(Event.occurred_at.desc(), Event.id.desc())]
    assert ids == expected and len(ids) == events


@pytest.mark.parametrize("query", [[], [("agent", "linux-01")]])
def test_export_batches_keep_events_a_microsecond_apart_and_the_to_filter(app, query):
    # Batches of 2, newest first: events 5 and 4, then 3 and 2 (a tie with 4 across the boundary), then 1, 0.
    stamps = ["2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000001Z", "2026-11-01T00:00:00.000002Z",
              "2026-11-01T00:00:00.000002Z", "2026-11-01T00:00:00.000002Z", "2026-11-01T00:00:00.000003Z",
              "2026-11-01T00:00:00.000004Z", "2026-11-01T00:00:01Z"]
    with connected(app):
        for n, stamp in enumerate(stamps):
            record_event({"title": "event %d" % n, "occurred_at": stamp, "agents": ["linux-01"]}, Actor("t"))
        args = MultiDict(query + [("to", "2026-11-01T00:00:00.000004Z")])
        chunks = list(csv_exchange.export_rows(csv_exchange.export_filters(args), batch_size=2))
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [r["title"] for r in rows] == ["event 5", "event 4", "event 3", "event 2", "event 1", "event 0"]
    assert rows[0]["occurred_at"] == "2026-11-01T00:00:00.000003Z" and rows[-1]["occurred_at"] == "2026-11-01T00:00:00Z"


def test_export_is_not_shadowed_by_the_event_route(client, auth, ledger):
    headers = auth.headers("viewer", "read")
    assert client.get("/api/v1/events/export.csv", headers=headers).mimetype == "text/csv"
    assert client.get("/api/v1/events/%d" % ledger[0]["id"], headers=headers).json["title"] == TRICKY[0]["title"]


def test_import_defaults_ignored_columns_and_audit(client, auth, app):
    headers = auth.headers()
    body = write_csv([
        ["41", "Agent relabelled", "", "", "", "", "2026-11-01T12:00:00Z", "", "linux-01", "", "", "", "", "", "", "",
         "", "", "99", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "mallory"],
        ["42", "Pipeline upgrade", "", "tool_update", "low", "pipeline", "2026-11-02T12:00:00Z", "", "", "maven", "",
         "", "[]", "[]", "", "{}", "", "", "", "", "", ""],
    ])
    response = import_csv(client, headers, body)
    assert response.status_code == 200 and response.json == {"created": 2, "errors": []}
    items = {e["title"]: e for e in client.get("/api/v1/events", headers=headers).json["items"]}
    relabel, upgrade = items["Agent relabelled"], items["Pipeline upgrade"]
    assert (relabel["source"], relabel["type"], relabel["severity"]) == ("import", "note", "info")
    assert (upgrade["source"], upgrade["type"], upgrade["severity"]) == ("pipeline", "tool_update", "low")
    assert relabel["count"] == 1 and relabel["created_by"] == "editor (token test)"
    assert not relabel["first_seen"].startswith("2020") and {relabel["id"], upgrade["id"]}.isdisjoint({41, 42})
    history = client.get("/api/v1/events/%d/history" % relabel["id"], headers=headers).json["items"]
    assert [(h["action"], h["actor"]) for h in history] == [("import", "editor (token test)")]
    assert history[0]["after"]["title"] == "Agent relabelled" and history[0]["after"]["agents"] == ["linux-01"]


def test_import_accepts_a_subset_of_columns_in_any_order(client, auth):
    headers = auth.headers()
    body = "Tags , TITLE,agents\nnet; proxy ;,Proxy outage, ;edge-01\n".encode()
    assert import_csv(client, headers, body).json == {"created": 1, "errors": []}
    event = client.get("/api/v1/events", headers=headers).json["items"][0]
    assert (event["title"], event["tags"], event["agents"]) == ("Proxy outage", ["net", "proxy"], ["edge-01"])


def test_dry_run_checks_everything_and_writes_nothing(client, auth, app, ledger):
    headers = auth.headers()
    body = export(client, headers).get_data()
    before = counts(app)
    response = import_csv(client, headers, body, "?dry_run=true")
    assert response.status_code == 200 and response.json == {"created": 6, "errors": []}
    assert counts(app) == before
    bad = body + b"x,Bad severity,,,urgent,,,,,,,,,,,,,,,,,\n"
    response = import_csv(client, headers, bad, "?dry_run=1")
    assert response.status_code == 200  # the report is the answer to a dry run, problems and all
    assert response.json == {"created": 0, "errors": [
        {"row": 8, "field": "severity", "message": "Must be one of: info, low, medium, high, critical."}]}
    assert counts(app) == before
    assert import_csv(client, headers, body, "?dry_run=maybe").json["errors"] == {"dry_run": ["Not a valid boolean."]}


BAD_ROWS = [
    (["", "low", "", "", "", ""], "title", "Length must be between 1 and 200."),
    (["x" * 201, "", "", "", "", ""], "title", "Length must be between 1 and 200."),
    (["ok", "urgent", "", "", "", ""], "severity", "Must be one of: info, low, medium, high, critical."),
    (["ok", "", "yesterday", "", "", ""], "occurred_at", "Not a valid ISO 8601 datetime."),
    (["ok", "", "2026-11-01T00:00:00", "", "", ""], "occurred_at", "Must include a UTC offset, e.g. 2026-01-31T12:00:00Z."),
    (["ok", "", "", "[{\"path\": }]", "", ""], "changes", "Not valid JSON: Expecting value (line 1, column 11)."),
    (["ok", "", "", "[{\"before\": 1}]", "", ""], "changes.0.path", "Missing data for required field."),
    (["ok", "", "", "", "[1, 2]", ""], "metadata", "Not a valid mapping type."),
    (["ok", "", "", "", "", "seven"], "reverts", "Not a valid integer."),
    (["ok", "", "", "", "", "999999"], "reverts", "No event with id 999999, neither a row of this batch nor in the ledger."),
    (["ok", "", ""], None, "Expected 6 cells (one per header column), found 3."),
]


@pytest.mark.parametrize("cells, field, message", BAD_ROWS)
def test_one_bad_row_among_2000_good_ones_rejects_the_file(client, auth, app, cells, field, message):
    headers = auth.headers()
    good = [["JDK upgrade %d" % n, "low", "2026-11-01T00:00:00Z", "[]", "{}", ""] for n in range(2000)]
    rows = good[:1000] + [cells] + good[1000:]
    body = write_csv(rows, header=["title", "severity", "occurred_at", "changes", "metadata", "reverts"])
    checked = import_csv(client, headers, body, "?dry_run=true")
    assert checked.status_code == 200
    assert checked.json == {"created": 0, "errors": [{"row": 1002, "field": field, "message": message}]}
    response = import_csv(client, headers, body)
    assert response.status_code == 422
    assert response.json == {"code": 422, "message": "Nothing was imported: 1 row has errors (row 1002).",
                             "errors": {"row 1002: %s" % field if field else "row 1002": [message]},
                             "created": 0, "rows": [{"row": 1002, "field": field, "message": message}]}
    assert counts(app)[0] == 0


@pytest.mark.parametrize("column, cell, message", [
    ("occurred_at", "0001-01-01T00:30:00+01:00", "Out of range: in UTC it must fall between 0001-01-01 and 9999-12-31."),
    ("ended_at", "9999-12-31T23:30:00-01:00", "Out of range: in UTC it must fall between 0001-01-01 and 9999-12-31."),
    ("metadata", '{"n": NaN}', "Not valid JSON: NaN is not JSON: numbers must be finite."),
    ("metadata", '{"n": Infinity}', "Not valid JSON: Infinity is not JSON: numbers must be finite."),
    ("metadata", '{"n": %s}' % ("9" * 5000), "Not valid JSON: Integers must fit in 64 bits"),
    ("metadata", '{"a":' * 5000 + "1" + "}" * 5000, "Not valid JSON: Nested more than 64 levels deep."),
    ("metadata", '{"note": "\\ud800"}', "Must be valid Unicode: a lone surrogate"),
    ("changes", '[{"path": "p", "after": "\\udfff"}]', "Must be valid Unicode: a lone surrogate"),
    ("changes", '[{"path": "p", "\\ud800": 1}]', "Unknown field."),  # named with U+FFFD, never echoed raw
    ("metadata", '{"\\udc00": 1}', 'Key "\\udc00": Must be valid Unicode'),
    ("reverts", "\uff11", "Not a valid integer."),  # fullwidth 1
    ("reverts", "9223372036854775808", "less than or equal to 9223372036854775807"),
    ("agents", "linux-01;a/../b", "Must not be '.' or '..', nor have them between '/'."),
    ("tools", "jdk\t17", "Must contain printable characters only"),
])
def test_hostile_cells_are_row_errors_never_a_500(client, auth, app, column, cell, message):
    body = write_csv([["ok", cell]], header=["title", column])
    checked = import_csv(client, auth.headers(), body, "?dry_run=true")
    assert checked.status_code == 200
    [error] = checked.json["errors"]
    assert error["row"] == 2 and error["field"].startswith(column) and message in error["message"]
    json.dumps(checked.json, ensure_ascii=False).encode("utf-8")  # no lone surrogate quoted back
    assert import_csv(client, auth.headers(), body).status_code == 422
    assert counts(app)[0] == 0


def test_an_id_cell_that_is_not_ascii_digits_is_just_not_a_reference(client, auth, app):
    body = write_csv([["\u00b2", "squared"], ["3", "three"]], header=["id", "title"])  # ² passes str.isdigit()
    assert import_csv(client, auth.headers(), body).json == {"created": 2, "errors": []}


def test_malformed_quoting_is_reported_with_its_row(client, auth, app):
    body = b'title,description\nfine,fine\nbroken,"quote"then text\nnever reached,x\n'
    checked = import_csv(client, auth.headers(), body, "?dry_run=true").json["errors"]
    assert checked == [{"row": 3, "field": None, "message": "Not readable as CSV: ',' expected after '\"'."}]
    assert import_csv(client, auth.headers(), body).status_code == 422
    assert counts(app)[0] == 0


def test_problems_of_every_kind_are_reported_together(client, auth):
    body = write_csv([["1", "", ""], ["2", "fine", "1"], ["3", "dangling", "404"]], header=["id", "title", "reverts"])
    checked = import_csv(client, auth.headers(), body, "?dry_run=true").json["errors"]
    assert [(e["row"], e["field"]) for e in checked] == [(2, "title"), (4, "reverts")]


def test_every_bad_row_is_listed(client, auth, app):
    body = write_csv([["", "note"], ["fine", "note"], ["also fine", "gossip"], ["", "rumour"]], header=["title", "type"])
    response = import_csv(client, auth.headers(), body)
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["row 2: title", "row 4: type", "row 5: title", "row 5: type"]
    assert response.json["message"] == "Nothing was imported: 3 rows have errors (rows 2, 4, 5)."
    checked = import_csv(client, auth.headers(), body, "?dry_run=true").json["errors"]
    assert [(e["row"], e["field"]) for e in checked] == [(2, "title"), (4, "type"), (5, "title"), (5, "type")]
    assert counts(app)[0] == 0


def test_reverts_resolve_to_rows_of_the_file_then_to_the_ledger(client, auth, app):
    headers = auth.headers()
    with connected(app):
        existing, _ = record_event({"title": "already in the ledger"}, Actor("seed"))
    body = write_csv([["7", "Roll back A", "7000"], ["7000", "A", ""], ["8", "Roll back old", str(existing["id"])]],
                     header=["id", "title", "reverts"])
    assert import_csv(client, headers, body).json == {"created": 3, "errors": []}
    items = {e["title"]: e for e in client.get("/api/v1/events", headers=headers).json["items"]}
    assert items["Roll back A"]["reverts"] == items["A"]["id"] != 7000
    assert items["Roll back old"]["reverts"] == existing["id"]
    history = client.get("/api/v1/events/%d/history" % items["Roll back A"]["id"], headers=headers).json["items"]
    assert history[0]["after"]["reverts"] == items["A"]["id"]


@pytest.mark.parametrize("body, expected", [
    (b"", [(1, None, "The file is empty; its first line must be a header with columns from: "
                     + ", ".join(csv_exchange.COLUMNS) + ".")]),
    (b"titel,colour\nJDK,blue\n", [(1, "titel", "Unknown column; the header may use: " + ", ".join(csv_exchange.COLUMNS) + "."),
                                   (1, "colour", "Unknown column; the header may use: " + ", ".join(csv_exchange.COLUMNS) + "."),
                                   (1, "title", "Missing column; every file needs it.")]),
    (b"title,type,title\nJDK,note,again\n", [(1, "title", "Column appears more than once.")]),
    (b"JDK upgrade,tool_update\n", [(1, "jdk upgrade", "Unknown column; the header may use: " + ", ".join(csv_exchange.COLUMNS) + "."),
                                    (1, "tool_update", "Unknown column; the header may use: " + ", ".join(csv_exchange.COLUMNS) + "."),
                                    (1, "title", "Missing column; every file needs it.")]),
])
def test_a_wrong_or_missing_header_names_the_columns(client, auth, app, body, expected):
    checked = import_csv(client, auth.headers(), body, "?dry_run=true").json["errors"]
    assert [(e["row"], e["field"], e["message"]) for e in checked] == expected
    response = import_csv(client, auth.headers(), body)
    assert response.status_code == 422
    assert response.json["message"] == "Nothing was imported: the header is wrong."
    assert response.json["errors"] == {"row 1: %s" % field if field else "row 1": [message] for _, field, message in expected}
    assert counts(app)[0] == 0


@pytest.mark.parametrize("body, message", [
    ("title\nMise à jour\n".encode("latin-1"), "The file is not UTF-8: byte 0xe0 on line 2 is not valid UTF-8."),
    ("title\nJDK\n".encode("utf-16"), "The file is UTF-16 text; save it as UTF-8"),
])
def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message(client, auth, app, body, message):
    response = import_csv(client, auth.headers(), body)
    assert response.status_code == 400
    assert response.json["message"].startswith(message) and "CSV UTF-8" in response.json["message"]
    assert counts(app)[0] == 0


def test_a_utf8_byte_order_mark_is_accepted(client, auth):
    headers = auth.headers()
    body = "\ufefftitle,agents\nMise à jour,paris-01\n".encode("utf-8")
    assert import_csv(client, headers, body).json == {"created": 1, "errors": []}
    assert client.get("/api/v1/events", headers=headers).json["items"][0]["title"] == "Mise à jour"


def test_multipart_upload_in_the_file_field(client, auth, app):
    headers = auth.headers()
    body = write_csv([["Upgrade Docker", "docker"]], header=["title", "tools"])
    response = client.post("/api/v1/events/import", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body), "events.csv"), "dry_run": "true"})
    assert response.status_code == 200 and response.json == {"created": 1, "errors": []}
    assert counts(app)[0] == 0
    response = client.post("/api/v1/events/import", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body), "events.csv")})
    assert response.json == {"created": 1, "errors": []}
    missing = client.post("/api/v1/events/import", headers=headers, content_type="multipart/form-data",
                          data={"upload": (io.BytesIO(body), "events.csv")})
    assert missing.status_code == 400 and "'file'" in missing.json["message"]
    form = client.post("/api/v1/events/import", headers=headers, data={"title": "x"})
    assert form.status_code == 415 and "text/csv" in form.json["message"]


@pytest.mark.parametrize("role, scope, export_status, import_status", [
    ("viewer", "read", 200, 403),
    ("editor", "read", 200, 403),
    ("editor", "write", 200, 200),
])
def test_viewers_export_but_only_writers_import(client, auth, app, role, scope, export_status, import_status):
    headers = auth.headers(role, scope)
    assert client.get("/api/v1/events/export.csv", headers=headers).status_code == export_status
    response = import_csv(client, headers, b"title\nFrom a viewer\n")
    assert response.status_code == import_status
    assert counts(app)[0] == (1 if import_status == 200 else 0)


def test_anonymous_callers_get_neither(client):
    assert client.get("/api/v1/events/export.csv").status_code == 401
    assert client.post("/api/v1/events/import", data=b"title\nx\n", headers=CSV).status_code == 401


def ten_thousand_rows():
    rows = [["Upgrade JDK 17.0.%d on linux-%03d" % (n % 40, n % 300), "Rolled by \"ops\",\nsecond line",
             "tool_update", "low", "2026-%02d-%02dT%02d:%02d:00Z" % (1 + n % 12, 1 + n % 28, n % 24, n % 60),
             "linux-%03d;linux-%03d" % (n % 300, (n + 1) % 300), "jdk-17", "jdk;upgrade",
             json.dumps([{"path": "tools/jdk-17/home", "before": "/opt/jdk-a", "after": "/opt/jdk-b"}]),
             json.dumps({"job": "infra", "build": n}), "http://jenkins:8080/job/infra/%d/" % n] for n in range(10000)]
    return write_csv(rows, header=["title", "description", "type", "severity", "occurred_at", "agents", "tools",
                                   "tags", "changes", "metadata", "build_url"])


def test_ten_thousand_rows_import_in_one_request(client, auth, app):
    body = ten_thousand_rows()
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]  # only the import has the larger limit
    started = time.perf_counter()
    response = import_csv(client, auth.headers(), body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.json
    assert response.json == {"created": 10000, "errors": []}
    assert elapsed < 60, "10,000 rows took %.1f s" % elapsed  # about 5 s on a laptop, SQLite or PostgreSQL
    with connected(app):
        assert Event.select().count() == 10000
        assert Agent.select().count() == 300  # each unknown agent created once
        assert EventAgent.select().count() == 20000
        assert AuditEntry.select().where(AuditEntry.action == "import").count() == 10000


def test_the_larger_limit_is_the_import_endpoints_alone(client, auth, app):
    headers = auth.headers()
    big = b"title,description\n" + b"".join(b"row %d,%s\n" % (n, b"x" * 1000) for n in range(1100))
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    assert client.post("/api/v1/events", data=big, headers={**headers, "Content-Type": "application/json"}).status_code == 413
    assert import_csv(client, headers, big, "?dry_run=true").json == {"created": 1100, "errors": []}
    app.config["MAX_IMPORT_BYTES"] = 1000
    refused = import_csv(client, headers, big)
    assert refused.status_code == 413 and refused.json["code"] == 413


def test_a_browser_session_imports_a_large_file_with_the_csrf_header(client, auth, app):
    auth.login("writer", role="editor")
    big = b"title,description\n" + b"".join(b"row %d,%s\n" % (n, b"x" * 1000) for n in range(1100))
    refused = import_csv(client, {}, big)
    assert refused.status_code == 400 and "CSRF" in refused.json["message"]
    response = import_csv(client, {"X-CSRFToken": auth.csrf_token("/")}, big)
    assert response.status_code == 200 and response.json == {"created": 1100, "errors": []}
    assert counts(app)[0] == 1100
