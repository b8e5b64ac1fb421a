"""The audit trail's pages and the error pages over the Flask test client (users and sources: the identity and
ingest page tests)."""
import re
from html import unescape

import pytest

from app.accounts import audit
from app.ledger import catalogue
from tests.conftest import connected
from tests.web.pages_support import text_of


def audit_entities(html):
    """The Entity column of #audit-list, one per entry (the fourth cell of each row that holds an entry)."""
    table = html.split('id="audit-list"', 1)[1].split("</table>", 1)[0]
    rows = (re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S))
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", cells[3])).split()) for cells in rows if len(cells) >= 5]


def test_the_audit_trail_pages_back_through_older_entries_keeping_its_filters(app, client, auth):
    with connected(app):
        for i in range(130):
            audit.record(audit.Actor("poller"), "update", "agent", "agent-%03d" % i)
        audit.record(audit.Actor("alice"), "update", "tool", "jdk")
    auth.login("boss", role="admin")
    first = client.get("/admin/audit?entity_type=agent").get_data(as_text=True)
    entities = audit_entities(first)
    assert len(entities) == 100 and entities[0] == "agent agent-129"
    older = unescape(re.search(r'<a href="([^"]+)" rel="next">Older entries', first).group(1))
    assert "entity_type=agent" in older
    rest = audit_entities(client.get(older).get_data(as_text=True))
    assert rest[0] == "agent agent-029" and rest[-1] == "agent agent-000" and len(rest) == 30
    assert "Older entries" not in client.get(older).get_data(as_text=True)
    assert audit_entities(client.get("/admin/audit?actor=ali").get_data(as_text=True)) == ["tool jdk"]


def test_an_unknown_address_is_a_404_page_in_the_same_look(client, auth):
    auth.login("reader", role="viewer")
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<header class="topbar">' in html and text_of(html, "error-title") == "Not found"
    assert 'href="/events"' in html.split('id="error-message"', 1)[1]


def test_a_crash_is_a_500_page_for_people_and_json_for_the_api(app, client, auth, monkeypatch, caplog):
    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(catalogue, "get_item", crash)
    auth.login("reader", role="viewer")
    page = client.get("/agents/linux-01")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert text_of(html, "error-title") == "Something went wrong" and "disk on fire" not in html
    assert '<header class="topbar">' in html and "has been logged" in html
    api = client.get("/api/v1/agents/linux-01")
    assert api.status_code == 500 and api.json == {"code": 500, "message": "Internal error; it has been logged.",
                                                   "errors": {}}
    assert "disk on fire" in caplog.text


@pytest.mark.parametrize("path", ["/admin/users", "/admin/audit", "/admin/sources", "/admin/inbox"])
def test_a_refused_admin_page_says_why_in_the_same_look(client, auth, path):
    auth.login("ed", role="editor")
    response = client.get(path)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert text_of(html, "error-title") == "Not allowed" and "This needs admin access" in html
    assert "Your role (editor) does not allow this." in html
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert "/admin/" not in nav  # the nav offers only what the user may use
