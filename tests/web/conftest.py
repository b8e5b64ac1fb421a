"""Fixtures shared by the browser tests (the browser and page themselves live in tests/conftest.py)."""
import pytest


@pytest.fixture
def problems(page):
    """Console errors (CSP violations included) and uncaught exceptions seen by the page."""
    seen = []
    page.on("console", lambda msg: seen.append("console %s: %s" % (msg.type, msg.text)) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.append("pageerror: %s" % exc))
    return seen
