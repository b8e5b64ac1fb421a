"""Moving a deployment to another database (SQLite → PostgreSQL, typically): ``changetracker db copy TARGET_URL``.

Every row of every table arrives with its id, so links, comments, audit entries, tokens and sessions' users
stay what they were: the target is migrated to this code's schema, must be empty, and is written in one
transaction (all or nothing), then its id sequences move past the copied ids. Left out, because the target
rebuilds or re-takes them: the timeline's per-day counts (the target's triggers count every copied event and
link as it arrives) and the worker's lease. The source is only read; stop the service and the worker first, so
nothing is written to it meanwhile, then point ``CHANGETRACKER_DATABASE_URL`` at the target.
"""
from dataclasses import dataclass, field

from peewee import ForeignKeyField, sort_models

from app import dialect, migrations
from app.db import database, open_database
from app.models import MODELS, TimelineCount, TimelineCountDelta, WorkerLease

LEFT_OUT = (TimelineCount, TimelineCountDelta, WorkerLease)
CHUNK = 1000


class TransferError(Exception):
    """The copy cannot start or did not arrive whole; nothing was committed to the target."""


@dataclass
class Report:
    target: str
    applied: list = field(default_factory=list)  # migrations the target got first
    copied: dict = field(default_factory=dict)  # table -> rows


def copy_database(target_url):
    """Copy the bound (source) database into the empty database at ``target_url``; returns a Report."""
    if migrations.pending(database.obj):
        raise TransferError("The source database has pending migrations: run `changetracker db upgrade` first.")
    target = open_database(target_url)
    try:
        target.connect()
    except Exception as exc:
        raise TransferError("Cannot open the target database: %s" % exc) from None
    try:
        report = Report(target=_where(target_url), applied=migrations.upgrade(target))
        models = [model for model in sort_models(MODELS) if model not in LEFT_OUT]
        with target.bind_ctx(MODELS):
            filled = {model._meta.table_name: n for model in models if (n := model.select().count())}
        if filled:
            raise TransferError("The target database is not empty (%s): copy into a new, empty database." % ", ".join(
                "%s: %d rows" % item for item in sorted(filled.items())))
        with target.atomic():
            for model in models:
                report.copied[model._meta.table_name] = _copy_table(model, target)
            dialect.restart_ids(target, models)
            with target.bind_ctx(MODELS):
                arrived = {model._meta.table_name: model.select().count() for model in models}
            if arrived != report.copied:
                raise TransferError("The copy did not arrive whole: %s" % {
                    name: (n, arrived[name]) for name, n in report.copied.items() if arrived[name] != n})
        return report
    finally:
        target.close()


def _copy_table(model, target):
    """Copy ``model``'s rows in primary-key order, in chunks; a reference to the same table (an event's
    ``reverts``) is set once every row is there, since it may point at a row further on."""
    own = [f.name for f in model._meta.sorted_fields if isinstance(f, ForeignKeyField) and f.rel_model is model]
    order = [model._meta.fields[name] for name in model._meta.primary_key.field_names] \
        if model._meta.composite_key else [model._meta.primary_key]
    later, count, chunk = [], 0, []
    for row in model.select().order_by(*order).dicts().iterator():
        for name in own:
            if row[name] is not None:
                later.append((row[model._meta.primary_key.name], name, row[name]))
                row[name] = None
        chunk.append(row)
        if len(chunk) == CHUNK:
            count += _insert(model, target, chunk)
            chunk = []
    count += _insert(model, target, chunk)
    with target.bind_ctx(MODELS):
        for key, name, value in later:
            model.update({name: value}).where(model._meta.primary_key == key).execute()
    return count


def _insert(model, target, rows):
    if rows:
        with target.bind_ctx(MODELS):
            model.insert_many(rows).execute()
    return len(rows)


def _where(url):
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return "%s%s%s%s%s" % (scheme, sep, credentials.split(":", 1)[0], at, host) if at else url
