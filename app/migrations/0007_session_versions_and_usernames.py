"""Sessions that end when they should, and usernames unique whatever their case.

user.session_version: part of the id that flask-login keeps in the session and the remember cookie
("<id>:<version>"); logout, a password change, a role change and deactivation add 1, which ends every session
and remember cookie issued before. Sessions issued before this migration carry no version: everyone logs in
again once.

user_username_lower: a unique index on LOWER(username), so VIEWER1 and viewer1 cannot both exist (usernames are
ASCII: letters, digits and . _ @ -, so LOWER() folds them alike on SQLite and PostgreSQL). Existing users whose
names differ only by case keep the oldest one's name; each later one is renamed <name>-<id> (-2, -3, ... if
that is taken too), its sessions are ended, and the audit trail and the log say so. Downgrading keeps the new
names.
"""
import json
import logging
from datetime import datetime, timezone

from peewee import IntegerField

log = logging.getLogger("app.migrations")


def up(migrator, db):
    migrator.migrate(migrator.add_column('user', 'session_version', IntegerField(default=1)))
    _rename_case_duplicates(db)
    db.execute_sql('CREATE UNIQUE INDEX "user_username_lower" ON "user" (LOWER("username"))')


def down(migrator, db):
    db.execute_sql('DROP INDEX "user_username_lower"')
    migrator.migrate(migrator.drop_column('user', 'session_version'))


def _rename_case_duplicates(db):
    rows = db.execute_sql('SELECT "id", "username" FROM "user" ORDER BY "id"').fetchall()
    taken = {name.lower() for _, name in rows}
    first = {}  # lower-cased name -> the name of its oldest user, who keeps it
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")  # naive UTC, as the models store it
    for user_id, name in rows:
        kept = first.setdefault(name.lower(), name)
        if kept == name:
            continue
        new = _free_name("%s-%d" % (name, user_id), taken)
        taken.add(new.lower())
        db.execute_sql('UPDATE "user" SET "username" = {p}, "session_version" = "session_version" + 1 '
                       'WHERE "id" = {p}'.format(p=db.param), (new, user_id))
        db.execute_sql('INSERT INTO "audit_entry" ("at", "actor", "action", "entity_type", "entity_id", "before", '
                       '"after") VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})'.format(p=db.param),
                       (now, "system (migration 0007)", "rename", "user", new, json.dumps({"username": name}),
                        json.dumps({"username": new, "reason": "usernames are case-insensitive; %s was there first"
                                    % kept})))
        log.warning("migration 0007: user %r renamed %r: usernames are case-insensitive and %r was there first",
                    name, new, kept)


def _free_name(name, taken):
    candidate, suffix = name[:80], 2
    while candidate.lower() in taken:
        tail = "-%d" % suffix
        candidate, suffix = name[:80 - len(tail)] + tail, suffix + 1
    return candidate
