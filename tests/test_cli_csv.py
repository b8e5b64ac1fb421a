"""`changetracker export` and `changetracker import`, through Flask's CliRunner."""
import csv
import io

import pytest

from app.accounts.audit import Actor
from app.cli import main
from app.ledger.events import record_event
from app.models import AuditEntry, Event
from tests.conftest import connected


@pytest.fixture
def ledger(app):
    with connected(app):
        record_event({"title": "JDK 17.0.9 on linux-01", "type": "tool_update", "agents": ["linux-01"],
                      "occurred_at": "2026-11-20T10:00:00Z", "description": "a, \"quoted\"\nnote"}, Actor("seed"))
        record_event({"title": "=cmd|' /C calc'!A0", "type": "note", "agents": ["linux-02"],
                      "occurred_at": "2026-11-10T10:00:00Z"}, Actor("seed"))
        record_event({"title": "Proxy outage", "type": "outage", "occurred_at": "2026-10-01T00:00:00Z"}, Actor("seed"))


def titles(text):
    return [row["title"] for row in csv.DictReader(io.StringIO(text, newline=""))]


def event_count(app):
    with connected(app):
        return Event.select().count()


def test_export_to_stdout_with_filters(runner, ledger):
    result = runner.invoke(main, ["export", "--from", "2026-11-01T00:00:00Z", "--type", "tool_update", "--type", "note"])
    assert result.exit_code == 0, result.output
    assert titles(result.stdout) == ["JDK 17.0.9 on linux-01", "'=cmd|' /C calc'!A0"]
    result = runner.invoke(main, ["export", "--agent", "linux-02"])
    assert titles(result.stdout) == ["'=cmd|' /C calc'!A0"]


def test_export_to_a_file_then_import_it_back(app, runner, ledger, tmp_path):
    target = tmp_path / "events.csv"
    result = runner.invoke(main, ["export", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "exported to %s" % target in result.output
    assert titles(target.read_text(encoding="utf-8")) == ["JDK 17.0.9 on linux-01", "'=cmd|' /C calc'!A0", "Proxy outage"]

    result = runner.invoke(main, ["import", str(target), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "all 3 rows are valid; nothing was written" in result.output
    assert event_count(app) == 3

    result = runner.invoke(main, ["import", str(target)])
    assert result.exit_code == 0, result.output
    assert "imported 3 events" in result.output
    with connected(app):
        assert Event.select().count() == 6
        copies = Event.select().where(Event.created_by == "cli")
        assert sorted(e.title for e in copies) == ["=cmd|' /C calc'!A0", "JDK 17.0.9 on linux-01", "Proxy outage"]
        assert {e.description for e in copies} >= {"a, \"quoted\"\nnote"}
        assert AuditEntry.select().where((AuditEntry.action == "import") & (AuditEntry.actor == "cli")).count() == 3


def test_import_reads_stdin(app, runner):
    result = runner.invoke(main, ["import", "-"], input="title,agents\nFrom a pipe,linux-09\n")
    assert result.exit_code == 0, result.output
    assert event_count(app) == 1


def test_a_bad_row_prints_row_field_message_and_exits_2(app, runner, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("title,severity,occurred_at\nfine,low,2026-11-01T00:00:00Z\nnot fine,urgent,yesterday\n",
                      encoding="utf-8")
    result = runner.invoke(main, ["import", str(source)])
    assert result.exit_code == 2
    assert "row 3: severity: Must be one of: info, low, medium, high, critical." in result.output
    assert "row 3: occurred_at: Not a valid ISO 8601 datetime." in result.output
    assert "error: Nothing was imported: 1 row has errors (row 3)." in result.output
    assert event_count(app) == 0


@pytest.mark.parametrize("content, expected", [
    ("title\nMise à jour\n".encode("latin-1"), "error: The file is not UTF-8: byte 0xe0 on line 2"),
    (b"titel\nx\n", "row 1: titel: Unknown column"),
    (b"", "row 1: -: The file is empty"),
])
def test_unreadable_files_exit_2(app, runner, tmp_path, content, expected):
    source = tmp_path / "events.csv"
    source.write_bytes(content)
    result = runner.invoke(main, ["import", str(source)])
    assert result.exit_code == 2
    assert expected in result.output
    assert event_count(app) == 0


def test_export_with_a_bad_filter_exits_2(runner):
    result = runner.invoke(main, ["export", "--from", "last tuesday"])
    assert result.exit_code == 2
    assert "error: from: Not a valid ISO 8601 datetime." in result.output
    result = runner.invoke(main, ["export", "--severity", "urgent"])
    assert result.exit_code == 2 and "severity" in result.output
