"""/fleet in Debian's chromium at 500 agents × 200 tools: page through agents and tools, narrow to the drift, and
open the change that introduced an outlier."""
import re

import pytest

from tests.web.pages_support import log_in
from tests.web.test_fleet_page import synthetic_fleet

pytestmark = pytest.mark.browser


def test_page_through_500_agents_by_200_tools_and_open_an_outliers_change(page, app, auth, problems):
    event_id = synthetic_fleet(app)
    log_in(page, auth, "viewer")
    page.goto("/fleet")
    matrix = page.locator("#agent-matrix")
    assert matrix.locator("tbody tr").count() == 50
    assert matrix.locator("thead th[data-column]").count() == 12
    assert "Agents 1–50 of 500" in page.locator("#agent-pager").inner_text()

    with page.expect_navigation():
        page.locator("#tool-pager a[rel=next]").click()
    assert matrix.locator("thead th[data-column]").first.get_attribute("data-column") == "tool-012"
    with page.expect_navigation():
        page.locator("#agent-pager a:has-text('Last »')").click()
    assert "Agents 451–500 of 500" in page.locator("#agent-pager").inner_text()
    assert "Tools 13–24 of 200" in page.locator("#tool-pager").inner_text()  # the tools page stays
    assert matrix.locator("tbody tr").first.get_attribute("data-row") == "agent-450"

    page.fill("#f-agent", "agent-49")
    page.check("#f-drifting")
    page.check("#f-odd")
    with page.expect_navigation():
        page.click("#fleet-filters button[type=submit]")
    assert "Agents 1–2 of 2" in page.locator("#agent-pager").inner_text()  # agent-490 (tool-010) and agent-499
    assert [r.get_attribute("data-row") for r in matrix.locator("tbody tr").all()] == ["agent-490", "agent-499"]
    cell = matrix.locator("tr[data-row=agent-499] td.outlier[data-column=tool-005] a")
    assert cell.inner_text() == "1.5.1"
    with page.expect_navigation():
        cell.click()
    assert re.search(r"/events/%d$" % event_id, page.url)
    assert page.locator("main h1").inner_text().startswith("agent-499: tool-005 tool home")
    assert problems == []
