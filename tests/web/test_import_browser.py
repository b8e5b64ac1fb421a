"""Importing a CSV in Debian's chromium: a file with one bad row is reported row by row and nothing is written; the
fixed file is reported valid, and only the confirmation records its events."""
import re

import pytest

from app.models import Event
from tests.conftest import connected
from tests.web.pages_support import log_in

pytestmark = pytest.mark.browser


def events_written(app):
    with connected(app):
        return Event.select().count()


def test_import_a_csv_with_one_bad_row_then_the_fixed_file(page, auth, app, tmp_path, problems):
    bad = tmp_path / "changes.csv"
    bad.write_text("title,type,severity,occurred_at,agents\n"
                   "JDK 17.0.9 on linux-01,tool_update,low,2026-11-20T10:00:00Z,linux-01\n"
                   "Proxy outage,outage,urgent,2026-11-20T11:00:00Z,\n"
                   "Maven 3.9.6,tool_update,info,2026-11-20T12:00:00Z,linux-02;linux-03\n", encoding="utf-8")
    fixed = tmp_path / "changes-fixed.csv"
    fixed.write_text(bad.read_text(encoding="utf-8").replace("urgent", "critical"), encoding="utf-8")
    log_in(page, auth, "editor")
    with page.expect_navigation():
        page.click("nav >> text=Import")
    assert " ".join(page.locator("ol.steps li[aria-current=step]").inner_text().split()) == "1 Choose a file"

    page.set_input_files("#f-file", str(bad))
    with page.expect_navigation() as nav:
        page.click("#import-form button[type=submit]")
    assert nav.value.status == 422
    problems.clear()  # the 422 response itself
    assert "Nothing was imported: 1 row has errors (row 3)." in page.locator("#import-problems").inner_text()
    rows = page.locator("#import-report tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("class") for i in range(3)] == ["row-ok", "row-bad", "row-ok"]
    assert "severity “urgent”: Must be one of: info, low, medium, high, critical." in rows.nth(1).inner_text()
    assert rows.nth(1).locator("td.bad-cell").inner_text() == "urgent"  # the wrong value is marked where it is
    assert page.locator("#confirm-import").count() == 0
    assert events_written(app) == 0
    # The field for the fixed file has the focus: pick it and go on.
    assert page.evaluate("document.activeElement.id") == "f-file"

    page.set_input_files("#f-file", str(fixed))
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert " ".join(page.locator("ol.steps li[aria-current=step]").inner_text().split()) == "3 Confirm the import"
    assert "every row is valid" in page.locator("#import-valid").inner_text()
    assert page.locator("#import-report tr.row-ok").count() == 3
    assert events_written(app) == 0  # checked, not written

    with page.expect_navigation():
        page.click("#confirm-import")
    assert "Imported 3 events from changes-fixed.csv." in page.locator(".flash").inner_text()
    assert events_written(app) == 3
    with page.expect_navigation():
        page.click("text=events from imports")
    titles = page.locator("#ledger tbody tr[data-event-id] td a[href^='/events/']").all_inner_texts()
    assert titles == ["Maven 3.9.6", "Proxy outage", "JDK 17.0.9 on linux-01"]

    # The same file once more: the report says it was imported already, and confirming needs a tick.
    page.goto("/import")
    page.set_input_files("#f-file", str(fixed))
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert "You imported this very file already" in page.locator("#imported-before").inner_text()
    page.click("#confirm-import")  # the browser asks for the box first
    assert page.evaluate("document.activeElement.id") == "f-again"
    assert re.search(r"/import$", page.url) and events_written(app) == 3
    assert problems == []
