"""Automatic ingestion: webhook sources, the durable inbox, snapshots, poll runs and the worker lease.

A frozen copy of the models as they were when this shipped: never edit it, add a new migration.
Inbox items keep their source's name when the source is deleted (SET NULL), so nothing accepted is lost.
"""
from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class WebhookSource(Model):
        name = CharField(unique=True, max_length=100)
        kind = CharField(max_length=16)
        secret_encrypted = TextField()
        mapping = TextField(default='{}')
        active = BooleanField(default=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'webhook_source'
    db.create_tables([WebhookSource])

    class InboxItem(Model):
        source = ForeignKeyField(WebhookSource, null=True, on_delete='SET NULL')
        source_name = CharField(max_length=100)
        kind = CharField(max_length=16)
        received_at = DateTimeField()
        headers = TextField(default='{}')
        body = TextField()
        body_sha256 = CharField(max_length=64)
        state = CharField(max_length=16, default='pending')
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        claimed_by = CharField(null=True, max_length=100)
        claimed_at = DateTimeField(null=True)
        last_error = TextField(null=True)
        event_ids = TextField(default='[]')
        processed_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'inbox_item'
            indexes = ((('state', 'next_attempt_at'), False),)
    db.create_tables([InboxItem])

    class PollRun(Model):
        poller = CharField(max_length=50)
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        status = CharField(max_length=16, default='running')
        observed = IntegerField(default=0)
        changed = IntegerField(default=0)
        events = IntegerField(default=0)
        errors = TextField(default='[]')
        class Meta:
            database = db
            table_name = 'poll_run'
            indexes = ((('poller', 'started_at'), False),)
    db.create_tables([PollRun])

    class Snapshot(Model):
        collector = CharField(max_length=50)
        key = CharField(max_length=300)
        observed_at = DateTimeField()
        received_at = DateTimeField()
        content = TextField()
        content_sha256 = CharField(max_length=64)
        event_ids = TextField(default='[]')
        class Meta:
            database = db
            table_name = 'snapshot'
            indexes = ((('collector', 'key', 'observed_at'), False),)
    db.create_tables([Snapshot])

    class WorkerLease(Model):
        name = CharField(primary_key=True, max_length=100)
        holder = CharField(max_length=200)
        expires_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'worker_lease'
    db.create_tables([WorkerLease])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('worker_lease'))
    migrator.migrate(migrator.drop_table('snapshot'))
    migrator.migrate(migrator.drop_table('poll_run'))
    migrator.migrate(migrator.drop_table('inbox_item'))
    migrator.migrate(migrator.drop_table('webhook_source'))

