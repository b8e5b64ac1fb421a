"""Receiving webhooks: is it ours (signature or static secret), is it the kind of document this endpoint takes,
and keep it durably in the inbox before anyone answers 202.

Checked here, synchronously: Content-Type (415), the secret (401), JSON (400) and the envelope — whether the body
is a document of the endpoint's kind at all (422). Everything that depends on the source's mapping or on the
ledger's rules is decided later by the worker, which dead-letters what it cannot use with the reason: an admin can
fix the mapping and replay, whereas a refused body is gone (the Notification plugin does not retry).
"""
import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from marshmallow import ValidationError

from app.fields import JsonRefused, loads_json
from app.ingest import inbox

JSON_TYPES = ("application/json",)
# Registry 2.x (Debian's docker-registry 2.8, the registry:2 image) sends events.v1+json, distribution 3.x
# events.v2+json; any later version of that family is JSON too.
REGISTRY_TYPES = ("application/json", "application/vnd.docker.distribution.events.v1+json",
                  "application/vnd.docker.distribution.events.v2+json")
_REGISTRY_FAMILY = re.compile(r"^application/vnd\.docker\.distribution\.events\.v\d+\+json$")
ACCEPTED_TYPES = {"jenkins": JSON_TYPES, "generic": JSON_TYPES, "registry": REGISTRY_TYPES}
# Kept with the body for whoever reads a dead letter; never Authorization, cookies or the signature.
KEPT_HEADERS = ("content-type", "user-agent", "x-request-id", "x-github-event", "x-github-delivery",
                "x-gitlab-event", "x-jenkins-event")
_PREFIX = re.compile(r"^\s*(sha256=|hmac\s+)", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class Refused(Exception):
    """The request is refused before anything is stored: ``status`` and a message for the sender."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def signature_matches(secret, body, header):
    """Whether ``header`` is HMAC-SHA256(secret, body): hex or base64, optionally prefixed by sha256= or "HMAC "."""
    presented = _digest_bytes(_PREFIX.sub("", header or "").strip())
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    # Compare even when the header is unreadable, so a malformed one costs what a wrong one costs.
    return hmac.compare_digest(expected, presented or b"\0" * len(expected)) and presented is not None


def _digest_bytes(text):
    if _HEX.match(text):
        return bytes.fromhex(text)
    try:
        decoded = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if len(decoded) == 32 else None


def authenticate(secret, body, signature=None, authorization=None, query_token=None):
    """How the sender proved it knows the secret ("hmac", "bearer" or "token"), or Refused(401).

    A signature, when sent, must verify: a valid static secret does not excuse a wrong signature.
    """
    if signature:
        if signature_matches(secret, body, signature):
            return "hmac"
        raise Refused(401, "The X-Hub-Signature-256 signature does not match the body.")
    if authorization:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() == "bearer" and _same(secret, presented.strip()):
            return "bearer"
        raise Refused(401, "The Authorization header does not carry this source's secret.")
    if query_token:
        if _same(secret, query_token):
            return "token"
        raise Refused(401, "The token parameter is not this source's secret.")
    raise Refused(401, "Authenticate with an X-Hub-Signature-256 HMAC of the body, 'Authorization: Bearer <secret>' "
                       "or ?token=<secret>.")


def _same(expected, presented):
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


def check_content_type(kind, mimetype, params):
    family = kind == "registry" and _REGISTRY_FAMILY.match(mimetype or "")
    if mimetype not in ACCEPTED_TYPES[kind] and not family:
        raise Refused(415, "Content-Type must be %s, not %s." % (" or ".join(ACCEPTED_TYPES[kind]), mimetype or "empty"))
    charset = (params or {}).get("charset")
    if charset and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Refused(415, "Only UTF-8 bodies are accepted, not charset=%s." % charset)


def parse_body(body):
    """The JSON document in ``body``, or Refused(400)."""
    if not body.strip():
        raise Refused(400, "The body is empty; send a JSON document.")
    try:
        text = body.decode("utf-8")
        return text, loads_json(text)
    except UnicodeDecodeError:
        raise Refused(400, "The body is not UTF-8.") from None
    except JsonRefused as exc:  # lone surrogates pass: the worker refuses them if a field it records holds one
        raise Refused(400, "The body is not valid JSON: %s" % exc) from None


def check_envelope(kind, document):
    """Whether the document is of the endpoint's kind at all; ValidationError (422) when it certainly is not."""
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["The body must be a JSON object."]})
    if kind == "jenkins":
        if not isinstance(document.get("build"), dict):
            raise ValidationError({"build": ["A Notification plugin payload has a 'build' object."]})
        if not isinstance(document["build"].get("phase"), str):
            raise ValidationError({"build.phase": ["Missing: the build phase (QUEUED, STARTED, COMPLETED, FINALIZED)."]})
    elif kind == "registry":
        events = document.get("events")
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValidationError({"events": ["A registry notification envelope has a list of event objects."]})


def is_read(entry):
    """A registry notification of a read: a pull, or any HEAD (the pollers' own manifest checks among them)."""
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    return entry.get("action") == "pull" or str(request.get("method") or "").upper() == "HEAD"


def reads_in(kind, document):
    """How many of a registry envelope's events are reads, which are never recorded."""
    return sum(1 for entry in document["events"] if is_read(entry)) if kind == "registry" else 0


@dataclass
class Receipt:
    """What became of an accepted delivery: its inbox item (None when nothing in it was worth keeping) and the
    number of read notifications (pulls, HEADs) it carried, which are dropped."""

    item_id: int | None
    dropped: int = 0


def receive(source, kind, secret, body, headers, mimetype, mimetype_params, query_token=None, remote_addr=None):
    """Check one webhook request and commit it to the inbox; returns a Receipt.

    ``headers`` is a case-insensitive mapping (werkzeug's Headers). Raises Refused (400/401/415) or
    ValidationError (422); nothing is stored then. A registry envelope of pulls and HEADs only is accepted and
    dropped without a row: every pull, the pollers' included, would otherwise be an ignored inbox item.
    """
    check_content_type(kind, mimetype, mimetype_params)
    method = authenticate(secret, body, headers.get("X-Hub-Signature-256"), headers.get("Authorization"), query_token)
    text, document = parse_body(body)
    check_envelope(kind, document)
    dropped = reads_in(kind, document)
    if dropped and dropped == len(document["events"]):
        return Receipt(None, dropped)
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    kept["x-authenticated-by"] = method
    if remote_addr:
        kept["x-remote-addr"] = remote_addr
    return Receipt(inbox.put(source, kind, text, hashlib.sha256(body).hexdigest(), kept), dropped)
