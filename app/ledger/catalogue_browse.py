"""Browsing the catalogue a page at a time, as the pages do: agents, tools and toolchains filtered by name (agents
also by label and status, tools by kind), sorted by name or by their newest change, and counted, so that a fleet
of 500 agents reads "51–100 of 500" with a way back as well as forward.

The API walks the catalogue with keyset cursors (``catalogue.list_items``); a person wants numbered pages. A
catalogue holds thousands of rows, not millions, so a page is one COUNT and one OFFSET on a small table; only
the event statistics of the rows shown are computed (``catalogue.describe``).
"""
from marshmallow import EXCLUDE, Schema, fields, validate
from peewee import Ordering, fn

from app.fields import Text, load_query, one_of
from app.ledger import catalogue
from app.models import Agent, Tool

PER_PAGE = 50
SORTS = {"name": "Name", "-last_event_at": "Newest change first"}
STATUSES = ("online", "offline")


class BrowseQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = Text(load_default="", validate=validate.Length(max=200))
    label = fields.List(Text(validate=validate.Length(min=1, max=catalogue.NAME_MAX)), load_default=list)
    status = Text(load_default=None, validate=one_of(STATUSES))
    kind = Text(load_default=None, validate=validate.Length(min=1, max=50))
    sort = Text(load_default="name", validate=one_of(tuple(SORTS)))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=PER_PAGE, validate=validate.Range(min=10, max=200))


def parse_browse_query(args):
    """The query of ``browse`` from query-string arguments; blank fields mean "no filter"."""
    return load_query(BrowseQuerySchema(), args)


def browse(kind, query):
    """One page of ``kind``: {"items", "total", "page", "pages", "per_page", "first", "last"}; ``first`` and
    ``last`` are 1-based positions ("51–100 of 500"). A page past the end shows the last one."""
    model = kind.model
    rows = model.select()
    if query["q"]:
        rows = rows.where(model.name.contains(query["q"]))
    if kind is catalogue.AGENTS:
        if query["label"]:
            rows = rows.where(catalogue.has_any_label(query["label"]))
        if query["status"]:
            rows = rows.where(Agent.offline == (query["status"] == "offline"))
    if kind is catalogue.TOOLS and query["kind"]:
        rows = rows.where(Tool.kind == query["kind"])
    total = rows.count()
    per_page = query["per_page"]
    pages = max(1, -(-total // per_page))
    page = min(query["page"], pages)
    if query["sort"] == "-last_event_at":
        junction = kind.junction
        newest = (junction.select(fn.MAX(junction.occurred_at))
                  .where(getattr(junction, kind.link) == model.id))
        rows = rows.order_by(Ordering(newest, "DESC", nulls="LAST"), model.name)
    else:
        rows = rows.order_by(model.name)
    shown = list(rows.offset((page - 1) * per_page).limit(per_page))
    first = (page - 1) * per_page + 1 if shown else 0
    return {"items": catalogue.describe(kind, shown), "total": total, "page": page, "pages": pages,
            "per_page": per_page, "first": first, "last": first + len(shown) - 1 if shown else 0}


def agent_labels():
    """Every agent label with how many agents carry it, most common first: the choices of the label filter."""
    counts = {}
    for (labels,) in Agent.select(Agent.labels).tuples():
        for label in labels or ():
            counts[label] = counts.get(label, 0) + 1
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def tool_kinds():
    """Every tool kind with how many tools have it, most common first."""
    query = Tool.select(Tool.kind, fn.COUNT(Tool.id)).group_by(Tool.kind).tuples()
    return sorted(query, key=lambda pair: (-pair[1], pair[0]))
