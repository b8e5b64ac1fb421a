"""What browser forms send, turned into what the domain's parsers take, and back into form values.

Forms differ from the API in two ways: ``datetime-local`` fields carry no offset (the pages say they
mean UTC), and a list of names is typed into one text field, comma-separated. Both are translated
here, so the domain sees exactly the query strings the API would send.
"""
import re
from datetime import datetime, timezone
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from app.ledger import catalogue, filters

_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
LEDGER_TIMES = ("from", "to")
# Single-valued /events arguments, in the order a query string lists them.
LEDGER_SINGLE = ("q", "sort", "limit", "cursor", "start")
PAGE_SIZE = 100
# Left out of links and saved searches: the form always sends them, and they say nothing.
LEDGER_DEFAULTS = {"sort": "-occurred_at", "limit": str(PAGE_SIZE)}


def utc_time(value):
    """A ``datetime-local`` value (no offset) as ISO 8601 UTC; anything else unchanged, for the parser to judge."""
    value = (value or "").strip()
    return value + "Z" if _LOCAL_TIME.match(value) else value


def utc_form_times(args, names=LEDGER_TIMES):
    """``args`` (a MultiDict) with its datetime-local fields ``names`` meaning UTC."""
    args = args.copy()
    for name in names:
        if args.get(name):
            args[name] = utc_time(args[name])
    return args


def split_names(values, whole=frozenset()):
    """Comma-separated names from one or more form values, in order, without blanks or repeats. Pieces that,
    joined by their commas, spell a name in ``whole`` stay that one name (the longest such run wins)."""
    names = []
    for value in values:
        pieces = value.split(",")
        start = 0
        while start < len(pieces):
            end = next((end for end in range(len(pieces), start + 1, -1)
                        if ",".join(pieces[start:end]).strip() in whole), start + 1)
            name = ",".join(pieces[start:end]).strip()
            if name and name not in names:
                names.append(name)
            start = end
    return names


def split_agent_names(values):
    """``split_names`` for agents: a known agent whose name has a comma in it stays whole, typed or linked
    (Jenkins' links send each agent in an agent= of its own). The catalogue is asked only when a value has one."""
    whole = catalogue.agent_names_with_commas() if any("," in value for value in values) else frozenset()
    return split_names(values, whole)


def datetime_local(value):
    """An ISO 8601 time (or datetime) as a ``datetime-local`` field shows it in UTC; '' when it is not one."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat((value or "").strip())
        except ValueError:
            return ""
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc)
        except OverflowError:  # no such instant in UTC (0001-01-01T00:30+01:00): the parser says so by the field
            return ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S" if moment.second else "%Y-%m-%dT%H:%M")


def ledger_query(args):
    """/events' query string as the API's: names split on commas into repeated values, times in UTC, blanks
    and defaults dropped. A MultiDict whose order is stable, so links and saved searches read the same."""
    query = MultiDict()
    for name in ("from", "to"):
        if args.get(name, "").strip():
            query[name] = utc_time(args[name])
    for name in filters.REPEATABLE:
        values = (split_agent_names if name == "agent" else split_names)(args.getlist(name))
        if values:
            query.setlist(name, values)
    for name in LEDGER_SINGLE:
        value = args.get(name, "").strip()
        if value and value != LEDGER_DEFAULTS.get(name):
            query[name] = value
    return query


def query_string(query, without=()):
    """``query`` (a MultiDict) as a query string, leaving out the names in ``without``."""
    return urlencode([(k, v) for k, v in query.items(multi=True) if k not in without])


def ledger_form(query):
    """What the /events filter form shows for ``query`` (see ``ledger_query``)."""
    form = {name: ", ".join(query.getlist(name)) for name in ("agent", "label", "tool", "toolchain", "tag", "not_agent",
                                                               "not_tool", "not_tag")}
    form.update({name: set(query.getlist(name)) for name in ("type", "severity", "source")})
    form.update({name: query.get(name, "") for name in LEDGER_SINGLE})
    form["sort"] = form["sort"] or LEDGER_DEFAULTS["sort"]
    for name in LEDGER_TIMES:
        form[name] = datetime_local(query.get(name, ""))
        form[name + "_raw"] = query.get(name, "")
    return form


EVENT_NAME_LISTS = ("agents", "tools", "toolchains", "tags")


def event_payload(form):
    """The payload for events.record_event from the /events/new form's text values.

    Names are comma-separated; links are one per line, a URL and optionally its text after a space.
    """
    payload = {
        "title": form["title"].strip(),
        "description": form["description"].replace("\r\n", "\n").strip(),
        "type": form["type"],
        "severity": form["severity"],
        "ended_at": utc_time(form["ended_at"]) or None,
        "build_url": form["build_url"].strip() or None,
        "links": [],
    }
    if form["occurred_at"].strip():
        payload["occurred_at"] = utc_time(form["occurred_at"])
    for name in EVENT_NAME_LISTS:
        payload[name] = (split_agent_names if name == "agents" else split_names)([form[name]])
    for line in form["links"].splitlines():
        url, _, text = line.strip().partition(" ")
        if url:
            payload["links"].append({"url": url, "text": text.strip()})
    return payload


def event_form_errors(messages):
    """``field_messages`` of a rejected event, keyed by the form field they belong to.

    A link's message ("links.1.url") goes to the links field as "Line 2: ..."; the schema's
    "Item N: ..." for names already says which one.
    """
    errors = {}
    for field, texts in messages.items():
        name, _, rest = field.partition(".")
        index, _, inner = rest.partition(".")
        if index.isdigit():
            prefix = "Line %d%s: " % (int(index) + 1, " (%s)" % inner if inner and inner != "url" else "")
            texts = [prefix + text for text in texts]
        errors.setdefault(name, []).extend(texts)
    return errors


def local_path(target):
    """``target`` if it is a path on this site ("/events?agent=x"), else None: where a form may send the browser
    back to, never another site (//evil.example, https://...)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 for c in target):
        return None
    return target
