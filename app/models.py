"""The ledger's tables. Timestamps are naive UTC (see app.db.utcnow)."""
from peewee import (
    SQL,
    AutoField,
    BigAutoField,
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from app.db import BaseModel, JSONField, utcnow

ROLES = ("viewer", "editor", "admin")
SCOPES = ("read", "record", "write", "admin")
EVENT_TYPES = (
    "agent_config",
    "tool_update",
    "toolchain_change",
    "docker_image",
    "plugin_update",
    "jenkins_core",
    "package_update",
    "outage",
    "rollback",
    "maintenance",
    "deployment",
    "note",
)
SEVERITIES = ("info", "low", "medium", "high", "critical")
SOURCES = ("manual", "pipeline", "webhook", "poller", "import")


class User(BaseModel):
    id = AutoField()
    username = CharField(max_length=80, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=16, default="viewer")
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    # Part of the id sessions and remember cookies carry: logout, a password or role change and deactivation
    # add 1 (app.accounts.users.end_sessions), which ends every session issued before.
    session_version = IntegerField(default=1)

    # flask-login protocol
    @property
    def is_active(self):
        return self.active

    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        """flask-login's "alternative id": what the session and the remember cookie hold (users.session_user)."""
        return "%d:%d" % (self.id, self.session_version)


# Usernames are unique whatever their case (VIEWER1 is viewer1); they are ASCII, so LOWER() folds them alike on
# SQLite and PostgreSQL, and lookups by LOWER(username) use this index.
User.add_index(User.index(fn.LOWER(User.username), unique=True, name="user_username_lower"))


class ApiToken(BaseModel):
    id = AutoField()
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    name = CharField(max_length=100)
    prefix = CharField(max_length=32, unique=True)
    secret_hash = CharField(max_length=64)
    scopes = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)


class Agent(BaseModel):
    id = AutoField()
    name = CharField(max_length=200, unique=True)
    labels = JSONField(default=list)
    description = TextField(default="")
    url = TextField(null=True)
    os = CharField(max_length=100, null=True)
    executors = IntegerField(null=True)
    offline = BooleanField(default=False)
    last_seen_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)


class Tool(BaseModel):
    id = AutoField()
    name = CharField(max_length=200, unique=True)
    kind = CharField(max_length=50, default="other")
    description = TextField(default="")
    url = TextField(null=True)
    created_at = DateTimeField(default=utcnow)


class Toolchain(BaseModel):
    id = AutoField()
    name = CharField(max_length=200, unique=True)
    description = TextField(default="")
    created_at = DateTimeField(default=utcnow)


class ToolchainTool(BaseModel):
    toolchain = ForeignKeyField(Toolchain, on_delete="CASCADE")
    tool = ForeignKeyField(Tool, on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("toolchain", "tool")


class Event(BaseModel):
    id = AutoField()
    title = CharField(max_length=200)
    description = TextField(default="")
    type = CharField(max_length=32, index=True)
    severity = CharField(max_length=16, index=True)
    source = CharField(max_length=16, index=True)
    occurred_at = DateTimeField(index=True)
    ended_at = DateTimeField(null=True)
    changes = JSONField(default=list)
    links = JSONField(default=list)
    build_url = TextField(null=True, index=True)
    metadata = JSONField(default=dict)
    dedupe_key = CharField(max_length=255, null=True, index=True)
    count = IntegerField(default=1)
    first_seen = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)
    # A rollback outlives the deletion of what it undid: the link is cleared, not the rollback.
    reverts = ForeignKeyField("self", null=True, on_delete="SET NULL")
    created_by = CharField(max_length=120, null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    # A change a poller or webhook detected with no intent recorded before it (app.ledger.unplanned).
    unplanned = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    # It names no agent: kept by triggers on event_agent (migration 0006), never written by the code.
    fleet_wide = BooleanField(default=True, constraints=[SQL("DEFAULT TRUE")])


# Only the flagged events, newest first: `planned=false` pages and the /metrics count (migration 0006).
Event.add_index(Event.index(Event.occurred_at, where=SQL("unplanned"), name="event_unplanned_occurred_at"))
# The events naming no agent, with what ranking them as suspects reads.
Event.add_index(Event.index(Event.occurred_at, Event.type, Event.severity, Event.ended_at, Event.unplanned,
                            where=SQL("fleet_wide"), name="event_fleet_wide"))
# The intervals (events with an end; outages and maintenance with none yet): which were going on at a moment, for
# the suspects of a failed build. Queries repeat INTERVALS word for word, so SQLite matches the partial index.
INTERVALS = "ended_at IS NOT NULL OR type IN ('outage', 'maintenance')"
Event.add_index(Event.index(Event.occurred_at, Event.ended_at, where=SQL(INTERVALS), name="event_intervals"))
# The rollbacks by time: what was reverted before a failure.
Event.add_index(Event.index(Event.occurred_at, Event.reverts, where=SQL("reverts_id IS NOT NULL"),
                            name="event_rollbacks"))


# The timeline's intervals (migration 0010): partial indexes, only the events with an end, and the outages and
# maintenance still going on.
Event.add_index(Event.index(Event.occurred_at, name="event_interval").where(Event.ended_at.is_null(False)))
Event.add_index(Event.index(Event.occurred_at, name="event_open_interval").where(
    Event.ended_at.is_null() & Event.type.in_(["outage", "maintenance"])))


# Junctions copy occurred_at so "events on agent X in [from, to)" is one index range scan.
# Their two indexes serve every lookup: by event, the primary key's first column; by agent (tool, ...), the
# (agent, occurred_at) index's. So the foreign keys get no index of their own (migration 0013).
# Deleting an event removes its links; deleting a referenced agent/tool/toolchain is refused
# by the database (RESTRICT) so history is only ever unlinked deliberately.
class EventAgent(BaseModel):
    event = ForeignKeyField(Event, on_delete="CASCADE", index=False)
    agent = ForeignKeyField(Agent, on_delete="RESTRICT", index=False)
    occurred_at = DateTimeField()

    class Meta:
        primary_key = CompositeKey("event", "agent")
        indexes = ((("agent", "occurred_at"), False),)


class TimelineCount(BaseModel):
    """Events per UTC day, lane and severity, written only by the database's triggers (migration 0005).

    ``lane`` is an agent's id, or FLEET_LANE for events that name no agent; an event on three agents
    counts in each of their lanes. ``week`` is the Monday of ``day``. Rows may hold 0.
    """
    FLEET_LANE = 0

    day = DateField()
    week = DateField()
    lane = IntegerField()
    severity = CharField(max_length=16)
    n = IntegerField()

    class Meta:
        table_name = "timeline_count"
        primary_key = CompositeKey("day", "lane", "severity")
        indexes = ((("week", "lane", "severity"), False),)


class TimelineCountDelta(TimelineCount):
    """TimelineCount's columns, one row per change: PostgreSQL's triggers append here instead of updating
    TimelineCount in place (no hot rows for concurrent writers); readers add these rows,
    ``buckets.fold_counts`` moves them into TimelineCount."""
    id = BigAutoField()

    class Meta:
        table_name = "timeline_count_delta"
        indexes = ((("day", "lane", "severity"), False),)


class EventTool(BaseModel):
    event = ForeignKeyField(Event, on_delete="CASCADE", index=False)
    tool = ForeignKeyField(Tool, on_delete="RESTRICT", index=False)
    occurred_at = DateTimeField()

    class Meta:
        primary_key = CompositeKey("event", "tool")
        indexes = ((("tool", "occurred_at"), False),)


class EventToolchain(BaseModel):
    event = ForeignKeyField(Event, on_delete="CASCADE", index=False)
    toolchain = ForeignKeyField(Toolchain, on_delete="RESTRICT", index=False)
    occurred_at = DateTimeField()

    class Meta:
        primary_key = CompositeKey("event", "toolchain")
        indexes = ((("toolchain", "occurred_at"), False),)


class Tag(BaseModel):
    id = AutoField()
    name = CharField(max_length=100, unique=True)


class EventTag(BaseModel):
    event = ForeignKeyField(Event, on_delete="CASCADE", index=False)
    tag = ForeignKeyField(Tag, on_delete="CASCADE", index=False)
    occurred_at = DateTimeField()

    class Meta:
        primary_key = CompositeKey("event", "tag")
        indexes = ((("tag", "occurred_at"), False),)


class DedupeSlot(BaseModel):
    """The event a dedupe key (or machine fingerprint) currently folds into; locked while deciding."""

    key = CharField(primary_key=True, max_length=300)
    event = ForeignKeyField(Event, null=True, on_delete="SET NULL")
    last_seen = DateTimeField(null=True)


class AuditEntry(BaseModel):
    id = AutoField()
    at = DateTimeField(default=utcnow, index=True)
    actor = CharField(max_length=200)
    # The entry outlives its author: deleting a user keeps the trail and its actor text.
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    action = CharField(max_length=32)
    entity_type = CharField(max_length=32)
    entity_id = CharField(max_length=200)
    before = JSONField(null=True)
    after = JSONField(null=True)

    class Meta:
        indexes = ((("entity_type", "entity_id", "at"), False),)


class Comment(BaseModel):
    """A note on an event; goes with the event, keeps its author text when the user is deleted."""

    id = AutoField()
    event = ForeignKeyField(Event, on_delete="CASCADE")
    author = CharField(max_length=200)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    body = TextField()
    created_at = DateTimeField(default=utcnow)


class SavedSearch(BaseModel):
    """A named /events query string; private to its owner unless shared."""

    id = AutoField()
    # The unique (user, name) index serves "a user's searches"; no separate index on user.
    user = ForeignKeyField(User, on_delete="CASCADE", index=False)
    name = CharField(max_length=100)
    query = TextField(default="")
    shared = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "name"), True),)


# --- automatic ingestion: webhook sources, the durable inbox, snapshots, poll runs, the worker lease

SOURCE_KINDS = ("jenkins", "registry", "generic")
INBOX_STATES = ("pending", "processing", "done", "ignored", "dead")


class WebhookSource(BaseModel):
    """A configured sender (one Jenkins controller, one registry, one generic system) with its own secret."""

    id = AutoField()
    name = CharField(max_length=100, unique=True)
    kind = CharField(max_length=16)
    # Encrypted with a key derived from SECRET_KEY: HMAC verification needs the secret itself, not a hash.
    secret_encrypted = TextField()
    mapping = JSONField(default=dict)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class InboxItem(BaseModel):
    """A webhook body, committed before the 202, until the worker has turned it into events."""

    id = AutoField()
    # The item outlives its source's deletion: it keeps the name and is dead-lettered when processed.
    source = ForeignKeyField(WebhookSource, null=True, on_delete="SET NULL")
    source_name = CharField(max_length=100)
    kind = CharField(max_length=16)
    received_at = DateTimeField(default=utcnow)
    headers = JSONField(default=dict)
    body = TextField()
    body_sha256 = CharField(max_length=64)
    state = CharField(max_length=16, default="pending")
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    claimed_by = CharField(max_length=100, null=True)
    claimed_at = DateTimeField(null=True)
    last_error = TextField(null=True)
    event_ids = JSONField(default=list)
    processed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("state", "next_attempt_at"), False),)


class Snapshot(BaseModel):
    """What a collector observed under a key at a time; the service diffs consecutive ones."""

    id = AutoField()
    collector = CharField(max_length=50)
    key = CharField(max_length=300)
    observed_at = DateTimeField()
    received_at = DateTimeField(default=utcnow)
    content = JSONField()
    content_sha256 = CharField(max_length=64)
    event_ids = JSONField(default=list)

    class Meta:
        indexes = ((("collector", "key", "observed_at"), False),)


class PollRun(BaseModel):
    """One run of one poller: when, how it went, what it saw and changed."""

    id = AutoField()
    poller = CharField(max_length=50)
    started_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    status = CharField(max_length=16, default="running")
    observed = IntegerField(default=0)
    changed = IntegerField(default=0)
    events = IntegerField(default=0)
    errors = JSONField(default=list)

    class Meta:
        indexes = ((("poller", "started_at"), False),)


class WorkerLease(BaseModel):
    """Who runs the schedule: one row per duty, held by one worker until it expires."""

    name = CharField(max_length=100, primary_key=True)
    holder = CharField(max_length=200)
    expires_at = DateTimeField()


MODELS = [
    User,
    ApiToken,
    Agent,
    Tool,
    Toolchain,
    ToolchainTool,
    Event,
    EventAgent,
    TimelineCount,
    TimelineCountDelta,
    EventTool,
    EventToolchain,
    Tag,
    EventTag,
    DedupeSlot,
    AuditEntry,
    Comment,
    SavedSearch,
    WebhookSource,
    InboxItem,
    Snapshot,
    PollRun,
    WorkerLease,
]
