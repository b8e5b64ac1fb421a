"""The API token's secret in Debian's chromium: shown once, with a copy button (static/js/copy.js) that puts it on
the clipboard, or selects it where the clipboard is refused."""
import re

import pytest

from tests.web.pages_support import log_in

pytestmark = pytest.mark.browser


def create_token(page, name):
    page.goto("/account/tokens")
    page.fill("#token-name", name)
    with page.expect_navigation():
        page.click("button:has-text('Create token')")
    return page.locator("#new-token-secret").inner_text().strip()


def test_the_copy_button_puts_the_secret_on_the_clipboard(page, live_server, auth, problems):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, auth, "editor")
    secret = create_token(page, "nightly-poller")
    assert re.fullmatch(r"ct_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", secret)
    button = page.locator("#copy-secret")
    assert button.is_visible() and button.inner_text() == "Copy the token"
    button.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard works as the mouse does
    page.locator("#copy-status:has-text('Copied')").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert page.locator("#copy-status").inner_text() == "Copied to the clipboard."
    assert problems == []


def test_where_the_clipboard_is_refused_the_secret_is_selected_for_ctrl_c(page, auth, problems):
    # As on plain http to another host, or with clipboard access blocked: both ways of copying fail.
    page.add_init_script("navigator.clipboard.writeText = () => Promise.reject(new Error('denied'));"
                         "document.execCommand = () => false;")
    log_in(page, auth, "editor")
    secret = create_token(page, "ci")
    page.click("#copy-secret")
    page.locator("#copy-status:not(:empty)").wait_for()
    assert page.locator("#copy-status").inner_text() == "Selected: press Ctrl+C (⌘C on a Mac) to copy it."
    assert page.evaluate("window.getSelection().toString()").strip() == secret
    assert problems == []


def test_without_javascript_there_is_no_dead_button(browser, live_server, auth):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, auth, "editor")
        secret = create_token(page, "no-js")
        assert secret.startswith("ct_")
        assert not page.locator("#copy-secret").is_visible()  # hidden until the script shows it
    finally:
        context.close()
