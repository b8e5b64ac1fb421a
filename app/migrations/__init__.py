"""Schema versions: the numbered files of this folder (never imported, only run), applied by peewee's migration runner."""
import os

from playhouse.migrations import MigrationError, Runner
from playhouse.schema_diff import diff_models

from app.models import MODELS

MIGRATIONS_DIR = os.path.dirname(os.path.abspath(__file__))


def runner(db):
    return Runner(db, MIGRATIONS_DIR, table_name="schema_migration")


def status(db):
    """[(index, name, applied_at or None)] in order."""
    return [(m.idx, m.name, m.applied) for m in runner(db).status() if m.path is not None]


def pending(db):
    return [name for _, name, applied in status(db) if applied is None]


def upgrade(db, to=None):
    """Apply pending migrations, all of them or up to and including number ``to``."""
    run = runner(db)
    target = None
    if to is not None:
        target = _name_of(run, to)
    return run.up(target)


def downgrade(db, to=None):
    """Revert the newest migration, or every applied migration numbered above ``to`` (0 = all)."""
    run = runner(db)
    applied = [m for m in run.status() if m.applied]
    if not applied:
        return []
    if to is None:
        return run.down()
    above = [m for m in applied if m.idx > to]
    if not above:
        return []
    return run.down(above[0].name)


# Created by migrations for one database only, outside the models: the PostgreSQL search index.
DATABASE_SPECIFIC_INDEXES = {"event_search"}


def drift(db):
    """What differs between the models and the migrated database (falsy when they match)."""
    diff = diff_models(db, MODELS)
    return diff._replace(drop_indexes=[i for i in diff.drop_indexes if i.name not in DATABASE_SPECIFIC_INDEXES])


def _name_of(run, number):
    for m in run.migrations():
        if m.idx == number:
            return m.name
    raise MigrationError("no migration numbered %s" % number)
