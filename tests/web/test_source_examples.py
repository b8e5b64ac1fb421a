"""/admin/sources starts each kind from a mapping that works: picking "generic" no longer saves the Jenkins example
(`mapping: {"jobs": ["Unknown field."]}`), and the generic example turns the page's own signed example into an
event."""
import json
import re
from html import unescape

import pytest

from app.ingest import inbox
from app.models import Event, WebhookSource
from app.web.ingest import MAPPING_EXAMPLES
from tests.conftest import connected
from tests.web.test_identity_browser import log_in
from tests.webhook_support import deliver

SECRET = "a-secret-the-admin-keeps-0123456789"


def form(auth, **values):
    return {"csrf_token": auth.csrf_token("/admin/sources"), **values}


def _mapping_box(page):
    return json.loads(unescape(re.search(r'<textarea id="mapping"[^>]*>(.*?)</textarea>', page, re.S).group(1)))


def test_saving_another_kinds_example_is_refused_with_this_kinds_example_filled_in(app, client, auth):
    auth.login("boss", role="admin")
    page = client.get("/admin/sources").get_data(as_text=True)
    assert _mapping_box(page) == MAPPING_EXAMPLES["jenkins"], "the form starts as a Jenkins source"

    refused = client.post("/admin/sources", data=form(auth, name="deployer", kind="generic", secret=SECRET,
                                                      active="on", mapping=json.dumps(MAPPING_EXAMPLES["jenkins"])))

    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert ("That was the jenkins example; the generic example is filled in instead: adjust it to what the sender "
            "posts, then add the source.") in unescape(text)
    assert _mapping_box(text) == MAPPING_EXAMPLES["generic"]
    assert 'value="deployer"' in text and SECRET in text, "what was typed is kept"
    with connected(app):
        assert not WebhookSource.select().exists()


def test_fill_in_the_example_for_the_chosen_kind(client, auth):
    auth.login("boss", role="admin")

    filled = client.post("/admin/sources", data=form(auth, name="hub", kind="registry", secret=SECRET,
                                                     action="example", mapping="{}"))

    assert filled.status_code == 200
    assert _mapping_box(filled.get_data(as_text=True)) == MAPPING_EXAMPLES["registry"]


def test_the_generic_example_turns_the_pages_signed_example_into_an_event(app, client, auth):
    auth.login("boss", role="admin")
    created = client.post("/admin/sources", data=form(auth, name="deployer", kind="generic", secret=SECRET,
                                                      active="on", mapping=json.dumps(MAPPING_EXAMPLES["generic"])))
    assert created.status_code == 302
    howto = client.get("/admin/sources/deployer").get_data(as_text=True)
    example = unescape(re.search(r'<pre id="signed-example"[^>]*>(.*?)</pre>', howto, re.S).group(1))
    body = re.search(r"^body='(.*)'$", example, re.M).group(1).encode()
    assert "http://localhost/hooks/generic/deployer" in example

    assert deliver(client, "generic", "deployer", body, secret=SECRET).status_code == 202
    with connected(app):
        assert inbox.drain("w", inbox.Settings())
        [event] = Event.select()
    assert (event.title, event.type, event.source) == ("Deploy payments 1.4.2 to production", "deployment", "webhook")
    assert event.description == "payments 1.4.2 deployed by alice"


@pytest.mark.browser
def test_picking_generic_in_the_browser_gives_a_source_that_saves(page, auth):
    log_in(page, auth, "boss", "admin")
    page.goto("/admin/sources")
    page.fill("#name", "deployer")
    page.select_option("#kind", "generic")
    page.click("#fill-example")
    assert json.loads(page.input_value("#mapping")) == MAPPING_EXAMPLES["generic"]
    assert page.input_value("#name") == "deployer" and page.input_value("#kind") == "generic"

    page.click("form[action$='/admin/sources'] .actions button[type=submit]")

    assert page.locator("#source-list tr[data-source=deployer] td").nth(1).inner_text() == "generic"
