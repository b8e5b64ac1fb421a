"""Property tests of the input rules (app/fields) and of every schema that loads input: whatever an attacker sends
(tests/hostile.py), loading either refuses it with a ValidationError or returns values the database stores and any
strict JSON parser reads back. Never another exception: that would be a 500."""
import importlib
import json
import math
import pkgutil
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

import app
from app.fields import JSON_INTEGERS, JsonRefused, json_problem, loads_json, text_problem
from tests import hostile

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def all_schemas():
    """Every marshmallow schema the app defines (its modules imported, collectors and delivery included)."""
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if ".migrations." not in module.name:
            importlib.import_module(module.name)
    found, pending = [], list(Schema.__subclasses__())
    while pending:
        schema = pending.pop()
        pending.extend(schema.__subclasses__())
        if schema.__module__.startswith("app.") and schema not in found:
            found.append(schema)
    return sorted(found, key=lambda s: (s.__module__, s.__name__))


SCHEMAS = all_schemas()
# Schemas that load requests, files, webhooks and snapshots: what they return goes to the database.
INPUT_SCHEMAS = [s for s in SCHEMAS if s.__name__.endswith(("CreateSchema", "UpdateSchema", "QuerySchema",
                                                            "FilterSchema", "RequestSchema", "MappingSchema",
                                                            "ContentSchema", "JobSchema"))
                 or s.__name__ in ("ChangeSchema", "LinkSchema", "RunErrorSchema")]


# Loaded with partial=True by PATCH handlers (only the fields sent change).
PARTIAL = {"EventCreateSchema", "AgentCreateSchema", "ToolCreateSchema", "ToolchainCreateSchema",
           "SavedSearchCreateSchema"}


def test_the_input_schemas_are_found():
    names = {s.__name__ for s in INPUT_SCHEMAS}
    assert {"EventCreateSchema", "EventFilterSchema", "SnapshotCreateSchema", "AgentCreateSchema", "UserCreateSchema",
            "SourceCreateSchema", "GenericMappingSchema", "SuspectQuerySchema", "AnnotationQuerySchema",
            "PollRunCreateSchema", "TokenRequestSchema", "SavedSearchCreateSchema", "CommentCreateSchema"} <= names


def plausible(field):
    """A value the field takes, so that a payload's other fields are checked past their own types."""
    if isinstance(field, fields.List):
        return st.lists(plausible(field.inner), max_size=2)
    if isinstance(field, fields.Nested):
        return st.just({})
    if isinstance(field, (fields.AwareDateTime, fields.DateTime)):
        return st.just("2026-11-20T10:00:00Z")
    if isinstance(field, fields.Boolean):
        return st.booleans()
    if isinstance(field, fields.Number):
        return st.integers(min_value=1, max_value=50)
    if isinstance(field, fields.Url):
        return st.just("https://ci.example.com/job/1/")
    if isinstance(field, fields.Dict):
        return st.just({})
    choices = [getattr(v, "choices", None) for v in (field.validators or [])]
    choices = [c for c in choices if c]
    if choices:
        return st.sampled_from(list(choices[0]))
    return st.sampled_from(["linux-07", "jdk-17", "x"])


def payloads(schema):
    """Dicts with some of ``schema``'s fields, each plausible or hostile."""
    loadable = {field.data_key or name: field for name, field in schema().fields.items() if not field.dump_only}
    return st.fixed_dictionaries({}, optional={
        key: st.one_of(plausible(field), hostile.hostile_python, hostile.query_values, hostile.times)
        for key, field in loadable.items()})


def unsafe(value):
    """Why a loaded value could not be stored or served as strict JSON, or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            problem = json_problem({str(k): 0 for k in item})
            if problem:
                return problem
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            pending.extend(item)
        elif isinstance(item, datetime):
            if item.tzinfo is not None:
                item.astimezone(timezone.utc)  # raises for an instant UTC cannot hold
        elif isinstance(item, str):
            if text_problem(item):
                return text_problem(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return "not finite"
        elif isinstance(item, int) and not isinstance(item, bool) and not JSON_INTEGERS[0] <= item <= JSON_INTEGERS[1]:
            return "past 64 bits"
    return json_problem(json.loads(json.dumps(value, default=str)))


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: "%s.%s" % (s.__module__.split(".", 1)[1], s.__name__))
def test_every_schema_refuses_hostile_input_with_a_validation_error_only(schema):
    check_input = schema in INPUT_SCHEMAS

    @SETTINGS
    @given(payload=payloads(schema), partial=st.booleans() if schema.__name__ in PARTIAL else st.just(False))
    def check(payload, partial):
        try:
            loaded = schema(partial=partial).load(payload)
        except ValidationError:
            return
        if check_input:
            assert unsafe(loaded) is None, loaded

    check()


@SETTINGS
@given(text=st.one_of(hostile.raw_json, st.text(max_size=50),
                      st.lists(hostile.raw_json, max_size=4).map(lambda parts: "[%s]" % ",".join(parts)),
                      st.dictionaries(hostile.json_text, hostile.raw_json, max_size=3).map(
                          lambda items: "{%s}" % ",".join("%s:%s" % (json.dumps(k), v) for k, v in items.items()))))
def test_loads_json_reads_only_what_strict_parsers_read_alike(text):
    try:
        value = loads_json(text)
    except JsonRefused as exc:
        assert str(exc).endswith(".")  # a sentence, as it ends up in the 400's message
        return
    # What it returns can be written back as strict JSON (no NaN, no Infinity) and reads the same; its text is
    # judged by the fields that take it.
    assert json.loads(json.dumps(value, allow_nan=False)) == value
    problem = json_problem(value)
    assert problem is None or "NUL" in problem or "Unicode" in problem, problem


@pytest.mark.parametrize("text, message", [
    ("NaN", "NaN is not JSON"), ("[1, -Infinity]", "-Infinity is not JSON"), ("1e400", "must be finite"),
    ("9" * 5000, "fit in 64 bits"), ("18446744073709551616", "fit in 64 bits"), ("-9223372036854775809", "64 bits"),
    (hostile.nested(65), "Nested more than 64 levels deep."), ("[" * 100000, "Nested more than 64 levels deep."),
    ('{"a": 1', "Expecting"),
])
def test_loads_json_refusals(text, message):
    with pytest.raises(JsonRefused, match=message.replace(".", r"\.").replace("-", r"\-")):
        loads_json(text)


@pytest.mark.parametrize("text", [hostile.nested(64), "18446744073709551615", "-9223372036854775808", '"\\ud800"',
                                  "1.7976931348623157e308"])
def test_loads_json_takes_the_edges_and_leaves_text_to_the_fields(text):
    loads_json(text)
