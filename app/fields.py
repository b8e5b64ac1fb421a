"""The input rules every way in shares, each with one wording of its errors: marshmallow fields for text (no NUL,
no lone surrogates), catalogue names, whole numbers written in ASCII digits, ids that fit a 64-bit column,
datetimes that carry a UTC offset and exist in UTC, and JSON values that any strict parser reads back; plus the one
reader of JSON text from outside (``loads_json``)."""
import json
import math
import re
from datetime import timezone

from marshmallow import ValidationError, fields, validate

NAME = validate.Length(min=1, max=200)
NAME_MAX = 200
MAX_ID = 2**63 - 1  # the largest id a 64-bit column holds
# JSON from outside: deeper nesting than this is refused (no real payload comes close; Python's own parser and
# encoder give up somewhere near 1000, which depends on the caller's stack), and numbers must fit in 64 bits
# (signed or unsigned) or be finite doubles, so every client parses what we store and serve back alike.
MAX_JSON_DEPTH = 64
JSON_INTEGERS = (-(2**63), 2**64 - 1)

_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)


def text_problem(text):
    """Why ``text`` cannot be stored as text (NUL, lone surrogates), or None."""
    if "\x00" in text:
        return "Must not contain NUL (\\u0000) characters."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Must be valid Unicode: a lone surrogate (\\ud800-\\udfff) is not a character."
    return None


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text):
    """``text`` with each lone surrogate replaced by U+FFFD: for messages that quote what was refused (a key), so
    they can be stored, rendered and served as UTF-8."""
    return _LONE_SURROGATE.sub("\ufffd", text)


class _Checked:
    """Mixed into a field: what it loads must pass the field's ``problem`` (None when fine, else the message)."""

    def _deserialize(self, value, attr, data, **kwargs):
        loaded = super()._deserialize(value, attr, data, **kwargs)
        problem = self.problem(loaded)
        if problem:
            raise ValidationError(problem)
        return loaded


class Text(_Checked, fields.String):
    """A string that can be stored and served as UTF-8: without NUL characters (PostgreSQL cannot store them; no
    legitimate input has them) or lone surrogates (JSON's "\\ud800" escape decodes to one; no encoder writes it)."""

    problem = staticmethod(text_problem)


class HttpUrl(_Checked, fields.Url):
    """An http or https URL (intranet hosts need no TLD) that passes ``text_problem``."""

    problem = staticmethod(text_problem)

    def __init__(self, **kwargs):
        super().__init__(require_tld=False, schemes={"http", "https"}, **kwargs)


def name_problem(name):
    """Why ``name`` cannot name an agent, tool or toolchain, or None when it can (docs/api.md: the name rules).

    Names end URL paths (``/api/v1/tools/<name>``), so they may hold any printable character and '/' between
    non-empty parts (Docker images such as ``library/python``); a part is never '.' or '..' (which clients resolve
    away), and there is no leading, trailing or doubled '/' (which HTTP clients and servers merge or strip).
    """
    if not 1 <= len(name) <= NAME_MAX:
        return "Must be 1 to %d characters." % NAME_MAX
    if name != name.strip():
        return "Must not start or end with whitespace."
    parts = name.split("/")
    if "" in parts:
        return "Must not start or end with '/' or contain '//': names end URL paths."
    if "." in parts or ".." in parts:
        return "Must not be '.' or '..', nor have them between '/'."
    if not name.isprintable():
        return "Must contain printable characters only (no control characters, tabs or line breaks)."
    return None


class CatalogueName(Text):
    """An agent, tool or toolchain name as events and the catalogue take it: surrounding white space is dropped
    (as forms and CSV cells often carry it), the rest must pass ``name_problem``."""

    def __init__(self, strip=True, **kwargs):
        super().__init__(**kwargs)
        self.strip = strip

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        name = name.strip() if self.strip else name
        problem = name_problem(name)
        if problem:
            raise ValidationError(problem)
        return name


def whole_number(text):
    """``text`` as an int when it is ASCII digits with an optional sign, else ValueError (int() would also read
    "５", "٣", " 5" and "1_000")."""
    if not _ASCII_INTEGER.fullmatch(text):
        raise ValueError("not a whole number in ASCII digits: %r" % text[:40])
    return int(text)


class Integer(fields.Integer):
    """A whole number; as text, only ASCII digits with an optional sign: never "５" (fullwidth), "٣" or "1_000",
    which Python's int() would read."""

    def _validated(self, value):
        if isinstance(value, str) and not _ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid")
        return super()._validated(value)


class Id(Integer):
    """The id of a stored row: 1 to 2**63 - 1 (a 64-bit column), a JSON integer (never text) in bodies."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        super().__init__(**kwargs)


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime with an offset (``Z`` or ``+01:00``); a naive one is refused, never guessed. Loads as
    aware UTC, so one that exists only in its own offset (``0001-01-01T00:30:00+01:00``) is refused here."""

    default_error_messages = {"invalid": "Not a valid ISO 8601 datetime.",
                              "invalid_awareness": "Must include a UTC offset, e.g. 2026-01-31T12:00:00Z.",
                              "range": "Out of range: in UTC it must fall between 0001-01-01 and 9999-12-31."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            raise self.make_error("range") from None


def json_problem(value):
    """Why ``value`` (parsed JSON) cannot be stored and served as JSON every client reads alike, or None: nested
    deeper than MAX_JSON_DEPTH, a number that is not finite or an integer past 64 bits, or text with NUL or a
    lone surrogate. Walks without recursion, so depth costs no stack."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
            for key in item:
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return "Key %s: %s" % (json.dumps(key[:40]), problem)
        elif isinstance(item, list):
            children = item
        else:
            problem = _scalar_problem(item)
            if problem:
                return problem
            continue
        if depth > MAX_JSON_DEPTH:
            return "Nested more than %d levels deep." % MAX_JSON_DEPTH
        pending.extend((child, depth + 1) for child in children)
    return None


def _scalar_problem(item):
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int):
        if not JSON_INTEGERS[0] <= item <= JSON_INTEGERS[1]:
            return "Integers must fit in 64 bits (%d to %d)." % JSON_INTEGERS
    elif isinstance(item, float):
        if not math.isfinite(item):
            return "Numbers must be finite: NaN and Infinity are not JSON."
    elif isinstance(item, str):
        return text_problem(item)
    return None


class JsonObject(fields.Dict):
    """A JSON object with text keys that passes ``json_problem``, checked before marshmallow checks the keys: a
    refused key is then named escaped in the message, not used raw as the key of a nested error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("keys", Text())
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        problem = json_problem(value) if isinstance(value, dict) else None
        if problem:
            raise ValidationError(problem)
        return super()._deserialize(value, attr, data, **kwargs)


class JsonValue(_Checked, fields.Raw):
    """Any JSON value that passes ``json_problem``."""

    problem = staticmethod(json_problem)


class JsonRefused(ValueError):
    """JSON text that the service does not read; the message says why."""


def loads_json(text):
    """``text`` (str) parsed as JSON, or JsonRefused: not JSON (NaN and Infinity are not), nested more than
    MAX_JSON_DEPTH deep, or a number past 64 bits or not finite. Text values are left to the fields that take
    them (Text, JsonObject, JsonValue), which name the field; a webhook keeps its body and the ledger refuses
    only what it uses. Numbers are checked as they are parsed, and the depth only when the text has more
    brackets than MAX_JSON_DEPTH: a webhook body costs little more than json.loads."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_checked_int, parse_float=_checked_float)
    except JsonRefused:
        raise
    except json.JSONDecodeError as exc:
        raise JsonRefused("%s (line %d, column %d)." % (exc.msg, exc.lineno, exc.colno)) from None
    except RecursionError:
        raise JsonRefused(_TOO_DEEP) from None
    except ValueError:  # int() refuses a number of more than 4300 digits
        raise JsonRefused(_TOO_BIG) from None
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth_exceeded(value):
        raise JsonRefused(_TOO_DEEP)
    return value


_TOO_DEEP = "Nested more than %d levels deep." % MAX_JSON_DEPTH
_TOO_BIG = "Integers must fit in 64 bits (%d to %d)." % JSON_INTEGERS


def _checked_int(text):
    value = int(text)
    if not JSON_INTEGERS[0] <= value <= JSON_INTEGERS[1]:
        raise JsonRefused(_TOO_BIG)
    return value


def _checked_float(text):
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise JsonRefused("Numbers must be finite: NaN and Infinity are not JSON.")
    return value


def _depth_exceeded(value):
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            if depth > MAX_JSON_DEPTH:
                return True
            pending.extend((child, depth + 1) for child in children)
    return False


def _refuse_constant(name):
    raise JsonRefused("%s is not JSON: numbers must be finite." % name)


def one_of(choices):
    """An enumeration: the message lists the choices."""
    return validate.OneOf(choices, error="Must be one of: {choices}.")


def not_blank(value):
    """A validator: text with something besides white space."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def load_query(schema, args):
    """Load a query string (anything with ``get`` and ``getlist``) with ``schema``, as a form submits it: blank
    values count as absent, so an empty field means "no filter" and its default applies; List fields take every
    value of their name."""
    raw = {}
    for name, field in schema.fields.items():
        if isinstance(field, fields.List):
            values = [v for v in args.getlist(name) if v.strip()]
            if values:
                raw[name] = values
        elif (args.get(name) or "").strip():
            raw[name] = args.get(name).strip()
    return schema.load(raw)
