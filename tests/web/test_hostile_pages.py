"""Every page and form, fed what an attacker or a careless user would type or craft (tests/hostile.py): instants UTC
cannot hold in from/to/before/since, non-ASCII digits, forged cursors, names against the name rules, NaN and deep
nesting in JSON fields (a source's mapping), hostile CSV files. The answer is a page or a redirect, never a 5xx."""
import gc
import io
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.accounts.audit import Actor
from app.ledger.events import record_event
from tests import hostile
from tests.conftest import connected

# Every query argument and form field the pages read.
QUERY_NAMES = ["from", "to", "before", "since", "agent", "label", "tool", "toolchain", "tag", "type", "severity",
               "source", "q", "sort", "limit", "cursor", "bucket", "window", "build_url", "entity_type", "actor",
               "state", "next", "title", "agents", "occurred_at", "ended_at"]
FORM_NAMES = ["title", "description", "type", "severity", "occurred_at", "ended_at", "agents", "tools", "toolchains",
              "tags", "links", "build_url", "body", "name", "query", "shared", "back", "expires_days", "scopes",
              "username", "role", "password", "active", "kind", "secret", "mapping"]
NOT_FUZZED = {"auth.logout", "static", "assets.plotly_js"}  # logging out would end the run's session


def routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith(("/api/", "/hooks/", "/static/")) or rule.endpoint in NOT_FUZZED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule


@st.composite
def page_request(draw, rule, method, known):
    url = rule.rule
    for match in re.finditer(r"<(?:(\w+):)?(\w+)>", rule.rule):
        converter = match.group(1)
        value = draw(st.one_of(st.sampled_from(known["id" if converter == "id" else "name"]), hostile.query_values))
        url = url.replace(match.group(0), quote(value, safe="/" if converter == "path" else "") or "x")
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), hostile.query_values, max_size=4))
    form = {}
    if method == "POST":
        form = draw(st.dictionaries(st.sampled_from(FORM_NAMES),
                                    st.one_of(hostile.query_values, hostile.raw_json), max_size=6))
        if rule.endpoint == "csv_exchange.upload":
            cells = draw(st.lists(st.one_of(hostile.query_values, hostile.raw_json), min_size=1, max_size=3))
            form["file"] = ("title,metadata,occurred_at\nok,%s\n" % ",".join(
                '"%s"' % c.replace('"', '""') for c in cells)).encode("utf-8")
    return url, query, form


def test_no_page_or_form_answers_a_5xx_to_hostile_input(app, client, auth):
    auth.login("pagefuzzer", role="admin")
    with connected(app):
        first, _ = record_event({"title": "seed", "agents": ["linux-01"], "tools": ["jdk"],
                                 "occurred_at": "2026-11-20T10:00:00Z"}, Actor("t"))
    known = {"id": [str(first["id"]), "1"], "name": ["linux-01", "jdk", "editor"]}
    csrf = auth.csrf_token("/")
    failures = []
    for method, rule in routes(app):

        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(request=page_request(rule, method, known))
        def check(request):
            url, query, form = request
            if method == "POST":
                data = {**form, "csrf_token": csrf}
                if "file" in data:
                    data["file"] = (io.BytesIO(data["file"]), "events.csv")
                response = client.post(url, query_string=query, data=data)
            else:
                response = client.get(url, query_string=query)
            body = response.get_data(as_text=True)
            assert response.status_code < 500, (method, url, query, form, body[:300])

        try:
            check()
        except Exception as exc:
            failures.append("%s %s: %s" % (method, rule.rule, str(exc)[:3000]))
    assert not failures, "\n\n".join(failures)


# The test client spools a multipart body over 500 KB to a temporary file it leaves to the garbage collector (werkzeug's
# stream_encode_multipart): the warning is about the test's own request body, not the service. The collector runs
# before the test ends, or it would raise the warning in whichever test of this process comes next (it did, in a
# browser test on PostgreSQL).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_every_page_and_form_with_one_hostile_value_in_every_field(app, client, auth):
    """The same value in every query argument and form field at once, for each of tests/hostile.py's kinds."""
    try:
        _post_one_hostile_value_everywhere(app, client, auth)
    finally:
        gc.collect()


def _post_one_hostile_value_everywhere(app, client, auth):
    auth.login("pagefuzzer", role="admin")
    csrf = auth.csrf_token("/")
    failures = []
    for method, rule in routes(app):
        url = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        for value in hostile.SWEEP_TEXT + (hostile.SWEEP_JSON if method == "POST" else []):
            query = {name: value for name in QUERY_NAMES}
            if method == "POST":
                form = {name: value for name in FORM_NAMES}
                if rule.endpoint == "csv_exchange.upload":
                    form["file"] = (io.BytesIO(("title,metadata\nok,%s\n" % value).encode("utf-8")), "x.csv")
                response = client.post(url, query_string=query, data={**form, "csrf_token": csrf})
            else:
                response = client.get(url, query_string=query)
            if response.status_code >= 500:
                failures.append("%s %s with %r: %d" % (method, url, value[:40], response.status_code))
    assert not failures, "\n".join(failures)
