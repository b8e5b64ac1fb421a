"""What the tests of the catalogue, fleet, import, token and admin pages share: logging in through the real form,
and reading what a person reads out of a page's HTML."""
import re
from html import unescape

from tests.conftest import PASSWORD


def log_in(page, auth, username, role=None):
    """Log ``username`` (a new or existing user with ``role``, by default the same word) in through /login."""
    auth.user(username, role or username)
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def text_of(html, element_id):
    """The visible text of the element with ``element_id`` (up to its closing tag), whitespace collapsed."""
    match = re.search(r'<(\w+)[^>]*id="%s"[^>]*>(.*?)</\1>' % re.escape(element_id), html, re.S)
    assert match, "no #%s on the page" % element_id
    return re.sub(r" ,", ",", " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split()))


def refused_query(client, url, label, form_id):
    """A page asked with a bad query: 422, the field named in the summary on top, and its form still there."""
    response = client.get(url)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert label in text_of(html, "f-error-summary") and 'id="%s"' % form_id in html
