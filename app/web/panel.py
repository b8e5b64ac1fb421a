"""The filter panel the timeline (/) and the table (/events) share: what its fields show, the chips of what is
applied (each removable, and "clear all"), the counts beside each choice, the names to complete, the saved
searches. The whole state lives in the query string, so a view is a link and the back button works."""
from datetime import datetime, timedelta, timezone

from flask import g, url_for
from werkzeug.datastructures import MultiDict

from app.ledger import catalogue, filters, saved_searches
from app.models import EVENT_TYPES, SEVERITIES, SOURCES
from app.web import form_input

LABELS = {"q": "Search", "from": "From (UTC)", "to": "To (UTC)", "range": "Range", "agent": "Agent",
          "label": "Agent label", "tool": "Tool", "toolchain": "Toolchain", "tag": "Tag", "type": "Type",
          "severity": "Severity", "source": "Source", "not_agent": "Not agent", "not_tool": "Not tool",
          "not_tag": "Not tag", "planned": "Planned", "sort": "Sort", "limit": "Per page"}
# planned=false|true: the panel's words for it, as the select offers it and its chip shows it.
PLANNED = (("", "planned or not"), ("false", "only unplanned changes"), ("true", "only planned"))
# Relative ranges: "the last 24 hours" stays the last 24 hours when the link is opened tomorrow.
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "90d": timedelta(days=90)}
# Facet counts group the matching events by one column: affordable up to this many events in the range.
FACET_LIMIT = 20000
NAME_LISTS = ("agent", "tool", "toolchain", "tag")


def relative_range(args, now=None):
    """(from, to) for ``range=24h`` and no from/to of its own; None otherwise."""
    if args.get("range") in RANGES and not args.get("from") and not args.get("to"):
        end = now or datetime.now(timezone.utc)
        return end - RANGES[args["range"]], end
    return None


def chips(query, endpoint, keep=(), range_name=None):
    """[(label, value, url without it)] for each applied filter, then nothing else: sort and paging are not
    filters. ``keep`` names query values carried along (the timeline's lane paging)."""
    pairs = [(name, value) for name, value in query.items(multi=True) if name in LABELS and name not in
             ("sort", "limit", "cursor")]
    made = []
    for index, (name, value) in enumerate(pairs):
        rest = MultiDict(pairs[:index] + pairs[index + 1:] + [(k, v) for k, v in keep])
        if range_name:
            rest.add("range", range_name)
        shown = form_input.datetime_local(value).replace("T", " ") + " UTC" if name in ("from", "to") else value
        shown = dict(PLANNED).get(value, value) if name == "planned" else shown
        made.append((LABELS[name], shown.replace("_", " ") if name in ("type", "source") else shown,
                     _url(endpoint, rest)))
    if range_name:
        made.insert(0, (LABELS["range"], "last %s" % range_name,
                        _url(endpoint, MultiDict(pairs + [(k, v) for k, v in keep]))))
    return made


def facets(found, total):
    """{type|severity|source: {value: count}} for the panel, or None when the range holds more than FACET_LIMIT
    events (the counts would cost more than the page)."""
    if total is None or total > FACET_LIMIT:
        return None
    return {name: filters.facet_counts(found, name) for name in ("severity", "type", "source")}


def names():
    """Names to complete in the agent, tool, toolchain and tag fields (the catalogue's, by name)."""
    return {name: catalogue.all_names(name) for name in NAME_LISTS}


def context(query, found, endpoint, total=None, keep=(), range_name=None, chosen_range=None, open_panel=False):
    """What templates/_filter_panel.html needs. ``range_name``: the relative range shown (the default one too);
    ``chosen_range``: the one the query string asked for, which is a removable chip."""
    current = form_input.query_string(query, without=("cursor",))
    return {
        "endpoint": endpoint,
        "form": form_input.ledger_form(query),
        "chips": chips(query, endpoint, keep, chosen_range),
        "clear_url": url_for(endpoint),
        "facets": facets(found, total) if found is not None else None,
        "facet_limit": FACET_LIMIT,
        "names": names(),
        "saved": saved_searches.list_saved_searches(g.actor),
        "current": current,
        "labels": LABELS,
        "types": EVENT_TYPES, "severities": SEVERITIES, "sources": SOURCES, "planned": PLANNED,
        "keep": list(keep), "range_name": range_name,
        "open": open_panel,
    }


def _url(endpoint, query):
    text = form_input.query_string(query)
    return url_for(endpoint) + ("?" + text if text else "")
