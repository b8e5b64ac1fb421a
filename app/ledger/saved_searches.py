"""Saved searches: a user's named /events query strings, private unless shared.

Everyone sees their own and the ones others share; only the owner (or an admin) changes or deletes one.
The query string is checked with the same parser /events uses, so a saved search always runs.
"""
from urllib.parse import parse_qsl

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from peewee import IntegrityError

from app.accounts import audit
from app.db import from_db_time, utcnow
from app.dialect import write_transaction
from app.errors import Conflict, Forbidden, NotFound
from app.fields import Text, not_blank
from app.ledger import filters
from app.models import SavedSearch, User

QUERY_MAX = 4000
# A saved search keeps what to look for, not where a page ended.
NOT_SAVED = ("cursor",)


class SavedSearchCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=[validate.Length(min=1, max=100), not_blank])
    query = Text(load_default="", validate=validate.Length(max=QUERY_MAX), metadata={
        "description": "the query string of GET /api/v1/events, e.g. agent=linux-07&type=tool_update"})
    shared = fields.Boolean(load_default=False, metadata={"description": "visible to every user"})


class SavedSearchSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text()
    query = Text()
    shared = fields.Boolean()
    owner = Text(dump_only=True)
    created_at = fields.DateTime(format="iso", dump_only=True)
    updated_at = fields.DateTime(format="iso", dump_only=True)


def filter_names():
    """The query-string names GET /api/v1/events understands."""
    return [field.data_key or name for name, field in filters.EventFilterSchema().fields.items()]


def check_query(query):
    """``query`` without a leading '?', or a ValidationError on ``query`` naming each bad filter."""
    text = query.strip()
    text = text[1:] if text.startswith("?") else text
    pairs = parse_qsl(text, keep_blank_values=True)
    known = set(filter_names()) - set(NOT_SAVED)
    problems = ["Unknown filter %r; use %s." % (key, ", ".join(sorted(known)))
                for key in dict.fromkeys(k for k, _ in pairs) if key not in known]
    if problems:
        raise ValidationError({"query": problems})
    try:
        filters.parse(filters.QueryArgs(pairs))
    except ValidationError as exc:
        raise ValidationError({"query": ["%s: %s" % pair for pair in _flatten(exc.messages)]}) from None
    return text


def list_saved_searches(actor):
    """The actor's own searches, then those others share, each by name."""
    rows = (SavedSearch.select(SavedSearch, User).join(User)
            .where((SavedSearch.user == actor.user_id) | (SavedSearch.shared == True)))  # noqa: E712
    rows = sorted(rows, key=lambda s: (s.user_id != actor.user_id, s.name.lower(), s.id))
    return [search_to_dict(s) for s in rows]


def get_saved_search(search_id, actor, may_see_all=False):
    """One search the actor may see (their own, a shared one, or any for admins); NotFound otherwise."""
    search = SavedSearch.select(SavedSearch, User).join(User).where(SavedSearch.id == search_id).first()
    if search is None or not (search.user_id == actor.user_id or search.shared or may_see_all):
        raise NotFound("No saved search with id %s." % search_id)
    return search


def create_saved_search(payload, actor):
    data = SavedSearchCreateSchema().load(payload)
    data["query"] = check_query(data["query"])
    data["name"] = data["name"].strip()
    try:
        with write_transaction():
            _refuse_taken(actor.user_id, data["name"])
            search = SavedSearch.create(user=actor.user_id, **data)
            result = search_to_dict(get_saved_search(search.id, actor))
            audit.record(actor, "create", "saved_search", search.id, after=_audit_view(result))
    except IntegrityError:
        raise _taken(data["name"]) from None
    return result


def update_saved_search(search_id, patch, actor, may_change_others=False):
    """Change name, query or shared flag of one's own search (admins: anyone's); audits changed fields."""
    data = SavedSearchCreateSchema(partial=True).load(patch)
    if "query" in data:
        data["query"] = check_query(data["query"])
    if "name" in data:
        data["name"] = data["name"].strip()
    try:
        with write_transaction():
            search = _changeable(search_id, actor, may_change_others)
            before = _audit_view(search_to_dict(search))
            if data.get("name", search.name) != search.name:
                _refuse_taken(search.user_id, data["name"])
            if data:
                SavedSearch.update(**data, updated_at=utcnow()).where(SavedSearch.id == search.id).execute()
            result = search_to_dict(get_saved_search(search.id, actor, may_see_all=True))
            after = _audit_view(result)
            changed = [k for k in ("name", "query", "shared") if before[k] != after[k]]
            if changed:
                audit.record(actor, "update", "saved_search", search.id,
                             before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    except IntegrityError:
        raise _taken(data.get("name", "")) from None
    return result


def delete_saved_search(search_id, actor, may_change_others=False):
    with write_transaction():
        search = _changeable(search_id, actor, may_change_others)
        before = _audit_view(search_to_dict(search))
        SavedSearch.delete().where(SavedSearch.id == search.id).execute()
        audit.record(actor, "delete", "saved_search", search.id, before=before)
    return before


def search_to_dict(search):
    return {
        "id": search.id,
        "name": search.name,
        "query": search.query,
        "shared": search.shared,
        "owner": search.user.username,
        "created_at": from_db_time(search.created_at),
        "updated_at": from_db_time(search.updated_at),
    }


def _changeable(search_id, actor, may_change_others):
    search = get_saved_search(search_id, actor, may_see_all=may_change_others)
    if search.user_id != actor.user_id and not may_change_others:
        raise Forbidden("Only its owner or an admin may change the saved search %r." % search.name)
    return search


def _refuse_taken(user_id, name):
    if SavedSearch.select().where((SavedSearch.user == user_id) & (SavedSearch.name == name)).exists():
        raise _taken(name)


def _taken(name):
    return Conflict("Its owner already has a saved search named %r." % name, {"name": ["Already taken."]})


def _flatten(messages):
    """(field, message) pairs from marshmallow's messages; a list field keys its errors by item index."""
    for field, value in messages.items():
        if isinstance(value, dict):
            value = [message for item in value.values() for message in item]
        for message in value:
            yield field, message


def _audit_view(search):
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in search.items()}
