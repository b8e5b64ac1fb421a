"""Hypothesis strategies for what an attacker or a careless sender puts in a request (issue 14): instants UTC cannot
hold, nesting thousands deep, lone surrogates, numbers past 64 bits, NaN and Infinity, digits that are not ASCII,
names against the name rules (docs/api.md) and forged cursors. Shared by the property tests of the schemas (tests/test_fields),
the API (tests/api/test_openapi), the pages (tests/web/test_hostile_pages) and the webhooks
(tests/ingest/test_hostile_deliveries)."""
import base64
import json
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

# --- times ---------------------------------------------------------------------------------------------------

EDGE_TIMES = [
    "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",  # no such instant in UTC
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+23:59",
    "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "2026-11-20T25:00:00Z",
    "２０２６-11-20T10:00:00Z", "2026-11-20T10:00:00", "2026-11-20", "+002026-11-20T10:00:00Z", "-0001-01-01T00:00:00Z",
    "2026-11-20T10:00:00+24:00", "2026-11-20T10:00:00.1234567890Z",
]
OFFSETS = [timezone(timedelta(minutes=m)) for m in (-1439, -720, -60, -1, 0, 1, 60, 720, 1439)]
# Any instant with any offset, biased to the ends of what datetime can represent.
times = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 3), timezones=st.sampled_from(OFFSETS))
    .map(datetime.isoformat),
    st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999),
                 timezones=st.sampled_from(OFFSETS)).map(datetime.isoformat),
    st.datetimes(timezones=st.sampled_from(OFFSETS)).map(datetime.isoformat),
)

# --- numbers and ids -----------------------------------------------------------------------------------------

BIG_INTEGERS = [2**63 - 1, 2**63, -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**30), 0, -1]
integers = st.one_of(st.sampled_from(BIG_INTEGERS), st.integers(min_value=-(2**80), max_value=2**80))
NOT_ASCII_DIGITS = ["１", "٣", "५", "𝟏", "1_000", " 5", "5 ", "+5", "0x10", "1e3", "²", "½", "Ⅻ", "٠٠١"]
digit_strings = st.one_of(st.sampled_from(NOT_ASCII_DIGITS), integers.map(str),
                          st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=6),
                          st.sampled_from(["9" * 5000]))

# --- text ----------------------------------------------------------------------------------------------------

NASTY_TEXT = [
    "", " ", "\x00", "a\x00b", "a/../b", "../..", ".", "..", "a//b", "/a", "a/", "a\nb", "a\tb", "\x1b[31mred",
    "\u202eevil", "\ufeff", "x" * 5000, "%00", "%2e%2e", "'; DROP TABLE event; --", "<script>alert(1)</script>",
    "{{7*7}}", "NaN", "Infinity", "null", "true", "[]", "{}", "\\ud800", "😀" * 3, "\r\n", "*", "?", "#", "&", "=",
]
# Text a URL or a form can carry (UTF-8: no lone surrogates), from anywhere in Unicode and from the lists above.
SPECIAL_TEXT = NASTY_TEXT + EDGE_TIMES + NOT_ASCII_DIGITS + [str(n) for n in BIG_INTEGERS] + ["9" * 5000]
url_text = st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
# Text as JSON carries it: lone surrogates too ("\ud800" escapes).
SURROGATE_TEXT = ["\ud800", "a\udfffb", "\udc00\ud800", "ok \ud83d"]
json_text = st.one_of(url_text, st.sampled_from(SURROGATE_TEXT),
                      st.text(st.characters(categories=["Cs", "Cc", "Lu", "Nd"]), min_size=1, max_size=8))


def forged_cursor(sort, value, last_id):
    return base64.urlsafe_b64encode(json.dumps([sort, value, last_id]).encode()).decode().rstrip("=")


SORTS = ["-occurred_at", "occurred_at", "severity", "-severity", "title"]
cursor_values = st.one_of(st.sampled_from(EDGE_TIMES), integers, st.just(["x"]), st.just({"a": 1}), st.none(),
                          st.booleans(), st.text(max_size=10))
FORGED_CURSORS = [forged_cursor("-occurred_at", "2026-11-01T00:00:00+00:00", 10**30),
                  forged_cursor("title", ["x"], 1), forged_cursor("-occurred_at", "0001-01-01T00:30:00+01:00", 1),
                  forged_cursor("severity", 10**30, 1), forged_cursor("-occurred_at", "2026-11-01T00:00:00", True),
                  "garbage", "", "====", base64.urlsafe_b64encode(b"[" * 5000).decode(),
                  base64.urlsafe_b64encode(b'["-occurred_at", NaN, 1]').decode(),
                  base64.urlsafe_b64encode(b"\xff\xfe").decode(), base64.urlsafe_b64encode(("x" * 3000).encode()).decode()]
cursors = st.one_of(st.sampled_from(FORGED_CURSORS), st.builds(
    forged_cursor, st.sampled_from(SORTS), cursor_values, st.one_of(integers, st.just("1"), st.none())))

# What goes in a query string, a path segment or a form field: half of it from the lists above.
query_values = st.one_of(st.sampled_from(SPECIAL_TEXT + FORGED_CURSORS), times, digit_strings, cursors, url_text)

# --- JSON, as raw text: some of it (NaN, 5,000 digits, nesting thousands deep) json.dumps would not write --------

def nested(depth, leaf="1", kind="list"):
    return ("[" * depth + leaf + "]" * depth) if kind == "list" else ('{"a":' * depth + leaf + "}" * depth)


RAW_JSON = [
    "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0.0", "9" * 5000, "-" + "9" * 5000,
    "18446744073709551616", "9223372036854775808", "-9223372036854775809", "1.0", "true", "null", "{}", "[]", '""',
    '"\\ud800"', '"a\\udfffb"', '"\\u0000"', '{"\\ud800": 1}', '["\\udc00"]', '{"a": NaN}', '[Infinity]',
    nested(63), nested(64), nested(65), nested(1000), nested(5000), nested(5000, kind="object"), "[" * 100000,
]
raw_json = st.one_of(st.sampled_from(RAW_JSON), st.sampled_from([json.dumps(t) for t in SPECIAL_TEXT + SURROGATE_TEXT]),
                     json_text.map(json.dumps), integers.map(str), times.map(json.dumps),
                     st.lists(json_text, max_size=3).map(json.dumps))

# --- JSON, as Python values (for the schemas, which never see text) -----------------------------------------

class Huge(int):
    """10**5000, shown as such (repr() of the number itself fails past 4300 digits)."""

    def __new__(cls):
        return super().__new__(cls, 10**5000)

    def __repr__(self):
        return "10**5000"


class Deep(list):
    """A list nested ``depth`` deep, shown as such (repr() would recurse)."""

    def __init__(self, depth):
        value = [1]
        for _ in range(depth - 1):
            value = [value]
        super().__init__(value)
        self.depth = depth

    def __repr__(self):
        return "Deep(%d)" % self.depth


python_values = st.recursive(
    st.one_of(st.none(), st.booleans(), integers, st.floats(), json_text, times,
              st.sampled_from([float("nan"), float("inf"), -float("inf")]), st.builds(Huge)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(json_text, children, max_size=3)),
    max_leaves=8,
)
hostile_python = st.one_of(python_values, st.builds(Deep, st.sampled_from([65, 1000, 5000])),
                           st.builds(lambda depth: {"k": Deep(depth)}, st.sampled_from([65, 5000])))


def substitute(document, raw):
    """``document`` (a JSON-able value holding the string PLACEHOLDER once) as JSON text with ``raw`` (JSON text)
    in the placeholder's place: how NaN, 5,000 digits or deep nesting get into a body."""
    text = json.dumps(document)
    marker = json.dumps(PLACEHOLDER)
    assert text.count(marker) == 1
    return text.replace(marker, raw)


PLACEHOLDER = "\uf8ffhostile\uf8ff"


# One of each kind, for the sweeps that put the same value in every field of a request at once (random draws reach
# each of these only now and then).
SWEEP_JSON = ["NaN", "-Infinity", "1e400", "9" * 5000, "18446744073709551616", '"\\ud800"', '{"\\ud800": 1}',
              '"0001-01-01T00:30:00+01:00"', '"9999-12-31T23:30:00-01:00"', nested(65), nested(5000),
              nested(5000, kind="object"), "[" * 100000]
SWEEP_TEXT = ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:59.999999Z", "１", "٣",
              "9" * 5000, "18446744073709551616", "a/../b", "a\nb", "\x1b[31m", "NaN", "[" * 5000] + FORGED_CURSORS[:3]
