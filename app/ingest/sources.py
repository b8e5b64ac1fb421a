"""Webhook sources: who may send us webhooks, with which secret, and how their payloads become events.

A source's secret is needed in clear text to check HMAC signatures, so it is stored encrypted (Fernet,
with a key derived from SECRET_KEY) rather than hashed; it is never returned, logged or audited.
"""
import base64
import functools
import time

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from peewee import IntegrityError

from app.accounts import audit
from app.db import database, from_db_time, utcnow
from app.errors import Conflict, NotFound
from app.fields import CatalogueName, JsonObject, Text, one_of
from app.models import EVENT_TYPES, SEVERITIES, SOURCE_KINDS, WebhookSource

MIN_SECRET_LENGTH = 16
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
# Event fields a generic source may fill from its payload.
GENERIC_FIELDS = ("title", "description", "type", "severity", "occurred_at", "ended_at", "agents", "tools",
                  "toolchains", "tags", "build_url", "dedupe_key")
LIST_FIELDS = ("agents", "tools", "toolchains", "tags")
PATH_PATTERN = r"^[^.\s][^\s]*$"


_names = fields.List(Text(validate=validate.Length(min=1, max=200)), load_default=list,
                     validate=validate.Length(max=100))
# Agents, tools and toolchains that every event of a rule names: the name rules of docs/api.md, checked when the mapping
# is saved rather than each time a delivery is dead-lettered for them.
_catalogue_names = fields.List(CatalogueName(strip=False), load_default=list, validate=validate.Length(max=100))
_path = validate.Regexp(PATH_PATTERN, error="A dotted path such as deployment.service or commits.0.id.")


# --- mappings, one schema per kind -------------------------------------------------------------------

class JenkinsJobSchema(Schema):
    """Builds of jobs matching ``pattern`` (fnmatch on the full job name, e.g. infra/deploy-*) become events."""

    class Meta:
        unknown = RAISE

    pattern = Text(required=True, validate=validate.Length(min=1, max=200))
    type = Text(load_default="deployment", validate=one_of(EVENT_TYPES))
    severity = Text(load_default="info", validate=one_of(SEVERITIES))
    failure_severity = Text(load_default="high", validate=one_of(SEVERITIES))
    agents = _catalogue_names
    tools = _catalogue_names
    toolchains = _catalogue_names
    tags = _names
    # A build parameter whose value names the agents the job changed (comma- or space-separated).
    agents_parameter = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))


class JenkinsMappingSchema(Schema):
    class Meta:
        unknown = RAISE

    jobs = fields.List(fields.Nested(JenkinsJobSchema), load_default=list, validate=validate.Length(max=200))
    # Failed builds of other jobs: ignored, or kept as notes so /api/v1/suspects?build_url= finds their agent.
    record_failures = fields.Boolean(load_default=False)
    failure_agents_parameter = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))


class RegistryMappingSchema(Schema):
    class Meta:
        unknown = RAISE

    repositories = fields.List(Text(validate=validate.Length(min=1, max=300)), load_default=lambda: ["*"],
                               validate=validate.Length(min=1, max=500),
                               metadata={"description": "fnmatch patterns of tracked repositories, e.g. library/*; "
                                                        "every repository by default"})
    actions = fields.List(Text(validate=one_of(("push", "delete"))), load_default=lambda: ["push", "delete"],
                          validate=validate.Length(min=1))
    severity = Text(load_default="info", validate=one_of(SEVERITIES))
    # Prepended to the repository in tool names (e.g. "registry.internal:5000/") when several registries are tracked.
    tool_prefix = Text(load_default="", validate=validate.Length(max=200))
    agents = _catalogue_names
    tags = _names


# The generic mapping has a key named "fields", which would shadow marshmallow.fields in its class body.
_Dict, _Boolean = fields.Dict, fields.Boolean


class GenericMappingSchema(Schema):
    class Meta:
        unknown = RAISE

    fields = _Dict(keys=Text(validate=one_of(GENERIC_FIELDS)), values=Text(validate=[
        validate.Length(min=1, max=300), _path]), load_default=dict,
        metadata={"description": "event field → dotted path in the payload"})
    templates = _Dict(keys=Text(validate=one_of(("title", "description", "dedupe_key"))),
                            values=Text(validate=validate.Length(min=1, max=1000)), load_default=dict,
                            metadata={"description": "event field → text with {dotted.path} placeholders"})
    defaults = _Dict(keys=Text(validate=one_of(GENERIC_FIELDS)), load_default=dict,
                           metadata={"description": "event field → value used when the path is missing"})
    include_payload = _Boolean(load_default=False)

    @validates_schema
    def _title_from_somewhere(self, data, **kwargs):
        if not any("title" in data.get(key, {}) for key in ("fields", "templates", "defaults")):
            raise ValidationError("Say where the title comes from: fields.title, templates.title or defaults.title.",
                                  "fields")
        for field, value in data.get("defaults", {}).items():
            if field in LIST_FIELDS:
                ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ValidationError({field: ["Must be %s." % ("a list of strings" if field in LIST_FIELDS
                                                               else "a string")]}, "defaults")
        for field, allowed in (("type", EVENT_TYPES), ("severity", SEVERITIES)):
            value = data.get("defaults", {}).get(field)
            if value is not None and value not in allowed:
                raise ValidationError({field: ["Must be one of: %s." % ", ".join(allowed)]}, "defaults")


MAPPING_SCHEMAS = {"jenkins": JenkinsMappingSchema, "registry": RegistryMappingSchema,
                   "generic": GenericMappingSchema}


# --- request and response shapes ---------------------------------------------------------------------

class SourceCreateSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Regexp(
        NAME_PATTERN, error="1-100 letters, digits, '.', '_' or '-', starting with a letter or digit."))
    kind = Text(required=True, validate=one_of(SOURCE_KINDS))
    secret = Text(required=True, load_only=True, validate=validate.Length(
        min=MIN_SECRET_LENGTH, max=500, error="Must be between {min} and {max} characters."))
    mapping = JsonObject(load_default=dict)
    active = fields.Boolean(load_default=True)


class SourceUpdateSchema(Schema):
    """PATCH: only what is sent changes; ``kind`` is fixed once created (the senders' URLs name it)."""

    class Meta:
        unknown = RAISE

    name = Text(validate=validate.Regexp(
        NAME_PATTERN, error="1-100 letters, digits, '.', '_' or '-', starting with a letter or digit."))
    secret = Text(load_only=True, validate=validate.Length(
        min=MIN_SECRET_LENGTH, max=500, error="Must be between {min} and {max} characters."))
    mapping = JsonObject()
    active = fields.Boolean()


class SourceSchema(Schema):
    """A source as the API returns it: never its secret."""

    id = fields.Integer(dump_only=True)
    name = Text()
    kind = Text()
    active = fields.Boolean()
    mapping = fields.Dict()
    receive_path = Text(dump_only=True, metadata={"description": "where the sender POSTs, e.g. /hooks/jenkins/ci-main"})
    created_at = fields.DateTime(format="iso", dump_only=True)
    updated_at = fields.DateTime(format="iso", dump_only=True)


# --- secrets at rest ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def cipher(secret_key):
    """The Fernet cipher for webhook secrets, keyed by HKDF(SECRET_KEY) so the session key is never reused as is."""
    material = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"changetracker webhook source secrets").derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


class SecretUnavailable(RuntimeError):
    """The stored secret cannot be decrypted (SECRET_KEY changed since it was saved)."""


def reveal_secret(source, box):
    try:
        return box.decrypt(source.secret_encrypted.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretUnavailable("The secret of source %r cannot be decrypted: was SECRET_KEY changed? "
                                "Set the secret again." % source.name) from None


def _seal(secret, box):
    return box.encrypt(secret.encode("utf-8")).decode("ascii")


# --- CRUD --------------------------------------------------------------------------------------------

def validate_mapping(kind, mapping):
    """The mapping loaded through its kind's schema (defaults filled), or ValidationError under ``mapping``."""
    try:
        return MAPPING_SCHEMAS[kind]().load(mapping or {})
    except ValidationError as exc:
        raise ValidationError({"mapping": exc.messages}) from None


def list_sources():
    return list(WebhookSource.select().order_by(WebhookSource.name))


def get_source(name):
    source = WebhookSource.get_or_none(WebhookSource.name == name)
    if source is None:
        raise NotFound("No webhook source named %r." % name)
    return source


# (database, cipher, kind, name) -> (valid until, source, secret): the receivers' view of the sources, per process.
_receiving = {}


def receiving_source(kind, name, box, cache_seconds=0.0):
    """(source, secret) of the active source ``name`` of ``kind``, or None (the receiver answers 404 alike for an
    unknown or inactive source and for another kind). Remembered for ``cache_seconds`` in this process, so a
    burst of webhooks costs no lookup and no decryption per request; changes made in this process apply at once,
    those made in another process within ``cache_seconds``. Raises SecretUnavailable."""
    key = (getattr(database.obj, "database", None), id(box), kind, name)
    now = time.monotonic()
    cached = _receiving.get(key)
    if cached is not None and cached[0] > now:
        return cached[1], cached[2]
    source = WebhookSource.get_or_none(WebhookSource.name == name)
    if source is None or not source.active or source.kind != kind:
        _receiving.pop(key, None)
        return None
    secret = reveal_secret(source, box)
    if cache_seconds > 0:
        _receiving[key] = (now + cache_seconds, source, secret)
    return source, secret


def forget_receiving_sources():
    _receiving.clear()


def create_source(data, box, actor=audit.SYSTEM):
    data = SourceCreateSchema().load(data)
    mapping = validate_mapping(data["kind"], data["mapping"])
    try:
        with database.atomic():
            source = WebhookSource.create(name=data["name"], kind=data["kind"], active=data["active"],
                                          secret_encrypted=_seal(data["secret"], box), mapping=mapping)
            audit.record(actor, "create", "webhook_source", source.name, after=_audit_view(source))
        forget_receiving_sources()
    except IntegrityError:
        raise Conflict("A webhook source named %r exists." % data["name"], {"name": ["Already taken."]}) from None
    return source


def update_source(name, data, box, actor=audit.SYSTEM):
    data = SourceUpdateSchema().load(data)
    try:
        with database.atomic():
            source = get_source(name)
            before = _audit_view(source)
            if "mapping" in data:
                source.mapping = validate_mapping(source.kind, data["mapping"])
            if "secret" in data:
                source.secret_encrypted = _seal(data["secret"], box)
            source.name = data.get("name", source.name)
            source.active = data.get("active", source.active)
            source.updated_at = utcnow()
            source.save()
            after = _audit_view(source)
            if "secret" in data:
                after["secret"] = "(changed)"
            forget_receiving_sources()
            if {k: v for k, v in after.items() if k != "updated_at"} != {k: v for k, v in before.items()
                                                                         if k != "updated_at"}:
                audit.record(actor, "update", "webhook_source", source.name, before=before, after=after)
    except IntegrityError:
        raise Conflict("A webhook source named %r exists." % data["name"], {"name": ["Already taken."]}) from None
    return source


def delete_source(name, actor=audit.SYSTEM):
    """Delete a source; its inbox items keep the source's name (and are dead-lettered if still pending)."""
    with database.atomic():
        source = get_source(name)
        before = _audit_view(source)
        source.delete_instance()
        audit.record(actor, "delete", "webhook_source", name, before=before)
        forget_receiving_sources()
    return before


def receive_path(source):
    return "/hooks/%s/%s" % (source.kind, source.name)


def source_view(source):
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind,
        "active": source.active,
        "mapping": source.mapping,
        "receive_path": receive_path(source),
        "created_at": from_db_time(source.created_at),
        "updated_at": from_db_time(source.updated_at),
    }


def _audit_view(source):
    """What the audit trail keeps of a source: everything but the secret."""
    return {"name": source.name, "kind": source.kind, "active": source.active, "mapping": source.mapping}

