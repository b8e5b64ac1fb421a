"""The core ledger: events, the catalogue (agents, tools, toolchains), tags, users, API tokens, audit.

A frozen copy of the models as they were when this shipped: never edit it, add a new migration.
JSON columns are TEXT holding JSON. Cascade rules: an event's links go with it; agents, tools and
toolchains that events reference cannot be dropped (RESTRICT); a user's tokens go with the user,
while audit entries keep their actor text (SET NULL).
"""
from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Agent(Model):
        name = CharField(unique=True, max_length=200)
        labels = TextField(default='[]')
        description = TextField(default='')
        url = TextField(null=True)
        os = CharField(null=True, max_length=100)
        executors = IntegerField(null=True)
        offline = BooleanField(default=False)
        last_seen_at = DateTimeField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'agent'
    db.create_tables([Agent])

    class User(Model):
        username = CharField(unique=True, max_length=80)
        password_hash = CharField()
        role = CharField(max_length=16, default='viewer')
        active = BooleanField(default=True)
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class ApiToken(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField(max_length=100)
        prefix = CharField(unique=True, max_length=32)
        secret_hash = CharField(max_length=64)
        scopes = CharField(max_length=64)
        created_at = DateTimeField()
        expires_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)
        last_used_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class AuditEntry(Model):
        at = DateTimeField(index=True)
        actor = CharField(max_length=200)
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        action = CharField(max_length=32)
        entity_type = CharField(max_length=32)
        entity_id = CharField(max_length=200)
        before = TextField(null=True)
        after = TextField(null=True)
        class Meta:
            database = db
            table_name = 'audit_entry'
            indexes = ((('entity_type', 'entity_id', 'at'), False),)
    db.create_tables([AuditEntry])

    class Event(Model):
        title = CharField(max_length=200)
        description = TextField(default='')
        type = CharField(index=True, max_length=32)
        severity = CharField(index=True, max_length=16)
        source = CharField(index=True, max_length=16)
        occurred_at = DateTimeField(index=True)
        ended_at = DateTimeField(null=True)
        changes = TextField(default='[]')
        links = TextField(default='[]')
        build_url = TextField(null=True)
        metadata = TextField(default='{}')
        dedupe_key = CharField(index=True, null=True)
        count = IntegerField(default=1)
        first_seen = DateTimeField()
        last_seen = DateTimeField()
        reverts = ForeignKeyField('self', null=True, on_delete='SET NULL')
        created_by = CharField(null=True, max_length=120)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'event'
    db.create_tables([Event])

    class EventAgent(Model):
        event = ForeignKeyField(Event, on_delete='CASCADE')
        agent = ForeignKeyField(Agent, on_delete='RESTRICT')
        occurred_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'event_agent'
            primary_key = CompositeKey('event', 'agent')
            indexes = ((('agent', 'occurred_at'), False),)
    db.create_tables([EventAgent])

    class Tag(Model):
        name = CharField(unique=True, max_length=100)
        class Meta:
            database = db
            table_name = 'tag'
    db.create_tables([Tag])

    class EventTag(Model):
        event = ForeignKeyField(Event, on_delete='CASCADE')
        tag = ForeignKeyField(Tag, on_delete='CASCADE')
        occurred_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'event_tag'
            primary_key = CompositeKey('event', 'tag')
            indexes = ((('tag', 'occurred_at'), False),)
    db.create_tables([EventTag])

    class Tool(Model):
        name = CharField(unique=True, max_length=200)
        kind = CharField(max_length=50, default='other')
        description = TextField(default='')
        url = TextField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'tool'
    db.create_tables([Tool])

    class EventTool(Model):
        event = ForeignKeyField(Event, on_delete='CASCADE')
        tool = ForeignKeyField(Tool, on_delete='RESTRICT')
        occurred_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'event_tool'
            primary_key = CompositeKey('event', 'tool')
            indexes = ((('tool', 'occurred_at'), False),)
    db.create_tables([EventTool])

    class Toolchain(Model):
        name = CharField(unique=True, max_length=200)
        description = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'toolchain'
    db.create_tables([Toolchain])

    class EventToolchain(Model):
        event = ForeignKeyField(Event, on_delete='CASCADE')
        toolchain = ForeignKeyField(Toolchain, on_delete='RESTRICT')
        occurred_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'event_toolchain'
            primary_key = CompositeKey('event', 'toolchain')
            indexes = ((('toolchain', 'occurred_at'), False),)
    db.create_tables([EventToolchain])

    class ToolchainTool(Model):
        toolchain = ForeignKeyField(Toolchain, on_delete='CASCADE')
        tool = ForeignKeyField(Tool, on_delete='CASCADE')
        class Meta:
            database = db
            table_name = 'toolchain_tool'
            primary_key = CompositeKey('toolchain', 'tool')
    db.create_tables([ToolchainTool])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('toolchain_tool'))
    migrator.migrate(migrator.drop_table('event_toolchain'))
    migrator.migrate(migrator.drop_table('toolchain'))
    migrator.migrate(migrator.drop_table('event_tool'))
    migrator.migrate(migrator.drop_table('tool'))
    migrator.migrate(migrator.drop_table('event_tag'))
    migrator.migrate(migrator.drop_table('tag'))
    migrator.migrate(migrator.drop_table('event_agent'))
    migrator.migrate(migrator.drop_table('event'))
    migrator.migrate(migrator.drop_table('audit_entry'))
    migrator.migrate(migrator.drop_table('api_token'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('agent'))
