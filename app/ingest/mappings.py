"""What webhook notifications mean: Jenkins build phases, registry manifest events and generic JSON, turned into
event payloads for ``record_event`` by each source's mapping (see app.ingest.sources for the mapping schemas).

Pure functions of (mapping, payload, context): no database, no Flask. ``Unusable`` means the payload can never
become events with this mapping (the inbox dead-letters it with the message); an empty ``Outcome`` with a reason
means "understood, nothing to record" (the item is marked ignored).
"""
import fnmatch
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from app.ingest.sources import LIST_FIELDS
from app.ledger import fingerprints

log = logging.getLogger(__name__)

FINAL_PHASES = ("COMPLETED", "FINALIZED")
STATUS_WORDS = {"SUCCESS": "succeeded", "FAILURE": "failed", "UNSTABLE": "unstable", "ABORTED": "aborted",
                "NOT_BUILT": "not built"}
MAX_KEY = 255
MAX_TITLE = 200
MAX_DESCRIPTION = 20000
# Parameters and SCM details are context, not the event: past this size they are left out of metadata.
MAX_CONTEXT_BYTES = 16 * 1024


class Unusable(ValueError):
    """The payload cannot become events with this mapping; the message says why (shown on /admin/inbox)."""


@dataclass
class Context:
    source: str
    item_id: int
    received_at: datetime  # aware UTC
    body_sha256: str = ""
    tag_history: object = None  # app.ingest.image_tags.TagHistory: what each repository:tag pointed at before


@dataclass
class Outcome:
    events: list = field(default_factory=list)
    reason: str | None = None  # why nothing (or only part) was recorded


def to_events(kind, mapping, payload, context):
    """The event payloads one notification stands for, by kind. Any failure is Unusable: being a pure function,
    a mapping would fail the same way on every retry (the exception is logged: it is a bug to fix, then replay)."""
    try:
        return {"jenkins": jenkins_events, "registry": registry_events, "generic": generic_events}[kind](
            mapping, payload, context)
    except Unusable:
        raise
    except Exception as exc:
        log.exception("the %s mapping failed on inbox item %s", kind, context.item_id)
        raise Unusable("The mapping failed on this payload (%s: %s); once that is fixed, replay it."
                       % (type(exc).__name__, exc)) from None


def webhook_metadata(context):
    return {"source": context.source, "inbox_item": context.item_id}


# --- Jenkins Notification plugin ---------------------------------------------------------------------

def jenkins_job_name(payload):
    """The job's full name: from its relative URL ("job/infra/job/deploy-jdk/" → "infra/deploy-jdk"), else ``name``."""
    url = payload.get("url")
    if isinstance(url, str) and url.strip("/"):
        parts = [unquote(p) for p in url.strip("/").split("/")]
        names = [parts[i + 1] for i in range(len(parts) - 1) if parts[i] == "job"]
        if names:
            return "/".join(names)
    name = payload.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    raise Unusable("The notification names no job: neither 'url' nor 'name' is set.")


def jenkins_events(mapping, payload, context):
    build = payload.get("build")
    if not isinstance(build, dict):
        raise Unusable("'build' must be an object.")
    job = jenkins_job_name(payload)
    phase = str(build.get("phase") or "").upper()
    if phase not in FINAL_PHASES:
        return Outcome(reason="Phase %s of %s: only COMPLETED and FINALIZED builds are recorded." % (phase or "?", job))
    status = str(build.get("status") or "UNKNOWN").upper()
    rule = next((r for r in mapping.get("jobs", []) if fnmatch.fnmatchcase(job, r["pattern"])), None)
    if rule is None and not (status == "FAILURE" and mapping.get("record_failures")):
        return Outcome(reason="Job %s matches no infrastructure-job pattern%s." % (
            job, "" if status != "FAILURE" else " and failures of other jobs are not recorded"))
    number = build.get("number")
    label = "%s #%s" % (job, number) if isinstance(number, int) else job
    title = "%s %s" % (label, STATUS_WORDS.get(status, status.lower()))
    parameters = _parameters(build.get("parameters"))
    full_url = build.get("full_url") if _is_http(build.get("full_url")) else None
    occurred_at, ended_at = _build_interval(build, context)
    event = {
        "title": _clip(title, MAX_TITLE),
        "description": _scm_text(build.get("scm")),
        "source": "webhook",
        "occurred_at": occurred_at,
        "ended_at": ended_at,
        "build_url": full_url,
        "links": [{"url": full_url, "text": "Build %s" % (("#%d" % number) if isinstance(number, int) else "")}]
        if full_url else [],
        "metadata": {"webhook": webhook_metadata(context), "jenkins": _bounded({
            "job": job, "number": number, "phase": phase, "status": status, "url": build.get("url"),
            "scm": build.get("scm"), "parameters": parameters})},
        "dedupe_key": _key("jenkins", context.source, build.get("url") or full_url or "%s#%s" % (job, number)),
    }
    if rule is not None:
        event.update({
            "type": rule["type"],
            "severity": rule["severity"] if status == "SUCCESS" else rule["failure_severity"],
            "agents": list(rule["agents"]) + _names_of(parameters.get(rule["agents_parameter"] or "")),
            "tools": list(rule["tools"]),
            "toolchains": list(rule["toolchains"]),
            "tags": ["jenkins"] + [t for t in rule["tags"] if t != "jenkins"],
        })
    else:
        event.update({
            "type": "note",
            "severity": "medium",
            "agents": _names_of(parameters.get(mapping.get("failure_agents_parameter") or "")),
            "tags": ["jenkins", "build-failure"],
        })
    return Outcome(events=[event])


def _parameters(value):
    """Build parameters as {name: text}: the plugin sends an object; some senders a list of {name, value}."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {str(p["name"]): p.get("value") for p in value if isinstance(p, dict) and "name" in p}
    return {}


def _build_interval(build, context):
    """(start, end): the build's own timestamp (epoch ms) and duration when sent, else the time we received it."""
    start = _epoch(build.get("timestamp"))
    if start is None:
        return _iso(context.received_at), None
    duration = build.get("duration")
    end = None
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration > 0:
        try:
            end = start + timedelta(milliseconds=duration)
        except OverflowError:  # past year 9999: a duration no build had
            end = None
    return _iso(start), _iso(end) if end else None


def _scm_text(scm):
    if not isinstance(scm, dict):
        return ""
    parts = [str(scm[k]) for k in ("url", "branch", "commit") if isinstance(scm.get(k), (str, int))]
    return ("SCM: " + " ".join(parts)) if parts else ""


# --- Docker Registry v2 notifications ----------------------------------------------------------------

def is_manifest(target):
    """A manifest (or index) event, as opposed to a layer or config blob."""
    media = str(target.get("mediaType") or "").lower()
    url = str(target.get("url") or "")
    if media:
        return "manifest" in media or "image.index" in media
    return "/blobs/" not in url  # deletes often carry no mediaType; blob URLs give layers away


def registry_events(mapping, payload, context):
    """One event per tag a push moved or a delete removed. The notification names only the new digest (a tag
    delete not even that): the digest before comes from ``context.tag_history`` (what the service last saw of that
    tag), and the event's dedupe_key is the tag move's fingerprint, which the registry poller shares."""
    entries = payload.get("events")
    if not isinstance(entries, list):
        raise Unusable("'events' must be a list.")
    events, skipped = [], {}
    for entry in entries:
        why = _registry_skip(mapping, entry)
        event = None if why else _registry_event(mapping, entry, context)
        if isinstance(event, str):
            why, event = event, None
        if why:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        events.append(event)
    if not skipped:
        return Outcome(events=events)
    reason = "Skipped: " + ", ".join("%d %s" % (n, why) for why, n in sorted(skipped.items())) + "."
    return Outcome(events=events, reason=reason)


def _registry_skip(mapping, entry):
    if not isinstance(entry, dict) or not isinstance(entry.get("target"), dict):
        return "malformed event(s)"
    action = entry.get("action")
    if action not in mapping.get("actions", ("push", "delete")):
        return "%s event(s)" % (action if isinstance(action, str) else "unknown")
    target = entry["target"]
    if not is_manifest(target):
        return "layer event(s)"
    repository = target.get("repository")
    if not isinstance(repository, str) or not repository:
        return "event(s) without a repository"
    if not any(fnmatch.fnmatchcase(repository, pattern) for pattern in mapping.get("repositories", ("*",))):
        return "event(s) of untracked repositories"
    if not _text(target.get("tag")):
        # A manifest pushed by digest is part of an index pushed under a tag; a manifest deleted by digest is
        # followed by one delete notification per tag that pointed at it.
        return "untagged manifest %s(s)" % action
    return None


def _registry_event(mapping, entry, context):
    """The event of one tagged push or delete, or why there is none (text)."""
    target, action = entry["target"], entry["action"]
    repository, tag = target["repository"], target["tag"]
    reference = "%s:%s" % (repository, tag)
    tool = _clip(mapping.get("tool_prefix", "") + reference, MAX_TITLE)
    occurred = _parse_time(entry.get("timestamp")) or context.received_at
    digest = _text(target.get("digest"))
    known = context.tag_history.before({tool, reference}, reference, occurred) if context.tag_history else None
    if action == "push":
        before, after = known, digest
        if before is not None and before == after:
            return "push(es) that left the tag where it was"
    else:
        before, after = digest or known, None
    if context.tag_history:
        context.tag_history.note({tool, reference}, occurred, after)
    verb = "pushed" if action == "push" else "deleted"
    shown = after if action == "push" else before
    title = "%s %s (%s)" % (reference, verb, _short_digest(shown)) if shown else "%s %s" % (reference, verb)
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    actor = entry.get("actor") if isinstance(entry.get("actor"), dict) else {}
    by = " by %s" % actor["name"] if actor.get("name") else ""
    if action == "push":
        description = "%s now points at %s (was %s)%s." % (reference, digest or "(no digest)", before or "unknown", by)
    else:
        description = "Tag %s deleted%s; it pointed at %s." % (reference, by, before or "an unknown digest")
    return {
        "title": _clip(title, MAX_TITLE),
        "description": description,
        "type": "docker_image",
        "severity": mapping.get("severity", "info"),
        "source": "webhook",
        "occurred_at": _iso(occurred),
        "agents": list(mapping.get("agents", [])),
        "tools": [tool],
        "tags": ["registry"] + [t for t in mapping.get("tags", []) if t != "registry"],
        "changes": [{"path": _clip(reference, 500), "before": before, "after": after}],
        "metadata": {"webhook": webhook_metadata(context), "registry": _bounded({
            "id": _text(entry.get("id")), "action": action, "repository": repository, "tag": tag, "digest": digest,
            "mediaType": target.get("mediaType"), "size": target.get("size", target.get("length")),
            "url": target.get("url"), "actor": actor.get("name"),
            "request": {k: request.get(k) for k in ("host", "method", "useragent") if k in request},
            "instance": (entry.get("source") or {}).get("instanceID") if isinstance(entry.get("source"), dict) else None,
        })},
        "dedupe_key": fingerprints.tag_move_key(tool, before, after),
    }


def _text(value):
    return value if isinstance(value, str) and value else None


def _short_digest(digest):
    algorithm, _, value = digest.partition(":")
    return "%s:%s" % (algorithm, value[:12]) if value else digest[:19]


# --- generic JSON ------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([^{}\s]+)\}")
_MISSING = object()


def resolve(payload, path):
    """The value at a dotted path ("deployment.service", "commits.0.id"), or ``_MISSING``."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", part) and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def render(template, payload):
    """``template`` with each {dotted.path} replaced by its value; a missing one is an Unusable error."""
    def value_of(match):
        value = resolve(payload, match.group(1))
        if value is _MISSING or value is None:
            raise Unusable("Template placeholder {%s} is missing from the payload." % match.group(1))
        return _scalar_text(value)
    return _PLACEHOLDER.sub(value_of, template)


def generic_events(mapping, payload, context):
    event = {"source": "webhook"}
    for name in ("title", "description", "type", "severity", "occurred_at", "ended_at", "agents", "tools",
                 "toolchains", "tags", "build_url", "dedupe_key"):
        value = _MISSING
        if name in mapping.get("templates", {}):
            value = render(mapping["templates"][name], payload)
        elif name in mapping.get("fields", {}):
            value = resolve(payload, mapping["fields"][name])
            if value is None:
                value = _MISSING
        if value is _MISSING:
            value = mapping.get("defaults", {}).get(name, _MISSING)
        if value is _MISSING:
            if name == "title":
                raise Unusable("No title: %s is missing from the payload and there is no default." % (
                    mapping.get("fields", {}).get("title", "the title path")))
            continue
        event[name] = _generic_value(name, value)
    key = event.pop("dedupe_key", None)
    # Without a mapped key, identical bodies are one notification sent twice (a retry), not two events.
    event["dedupe_key"] = _key("generic", context.source, key if key else context.body_sha256)
    event.setdefault("occurred_at", _iso(context.received_at))
    metadata = {"webhook": webhook_metadata(context)}
    if mapping.get("include_payload"):
        metadata["payload"] = payload
    event["metadata"] = metadata
    return Outcome(events=[event])


def _generic_value(name, value):
    if name in LIST_FIELDS:
        if isinstance(value, list):
            items = [_scalar_text(v) for v in value if v is not None]
        else:
            items = _names_of(_scalar_text(value))
        return [i for i in (s.strip() for s in items) if i]
    if name in ("occurred_at", "ended_at"):
        moment = _epoch(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _parse_time(value)
        if moment is None:
            raise Unusable("%s: %r is neither an ISO 8601 time nor epoch seconds or milliseconds." % (name, value))
        return _iso(moment)
    if isinstance(value, (dict, list)):
        raise Unusable("%s: expected text, found %s." % (name, "an object" if isinstance(value, dict) else "a list"))
    text = _scalar_text(value)
    if name in ("type", "severity"):
        return text.strip().lower()
    if name == "title":
        return _clip(" ".join(text.split()), MAX_TITLE)
    if name == "description":
        return _clip(text, MAX_DESCRIPTION)
    return text


# --- shared helpers ----------------------------------------------------------------------------------

def _key(kind, source, natural):
    """A dedupe key for one notification: readable when short, hashed past the column's 255 characters."""
    key = "%s:%s:%s" % (kind, source, natural)
    if len(key) <= MAX_KEY:
        return key
    return "%s:%s" % (key[:MAX_KEY - 65], hashlib.sha256(key.encode("utf-8")).hexdigest())


def _names_of(value):
    """Agent or tool names from a parameter or field: a list, or text separated by commas or whitespace."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if not isinstance(value, str):
        return []
    return [n for n in re.split(r"[,\s]+", value) if n]


def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _clip(text, limit):
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _is_http(value):
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value) is not None and len(value) < 2000


def _bounded(context):
    """Context for metadata, without its bulky parts (parameters, scm) when it would pass MAX_CONTEXT_BYTES."""
    for bulky in ("parameters", "scm", "request"):
        if len(json.dumps(context, default=str)) <= MAX_CONTEXT_BYTES:
            break
        context.pop(bulky, None)
    return {k: v for k, v in context.items() if v is not None}


def _epoch(value):
    """Epoch seconds or milliseconds (Jenkins sends ms) as an aware datetime, or None."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _parse_time(value):
    """An ISO 8601 / RFC 3339 time (the registry sends nanoseconds) as aware UTC; naive times are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:30:00+01:00: no such instant in UTC
        return None


def _iso(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
