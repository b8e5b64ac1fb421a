"""Who may call what: one table for every route (app.http.guard enforces it before any view runs).

Each endpoint needs a level: ``public`` (anyone, even anonymous), ``read`` (viewer / read token),
``record`` (editor / record token: append-only, what pipelines and pollers need), ``write`` (editor / write token)
or ``admin``. A route missing from this table is refused for everyone and fails the URL-map test, so nothing new
ships unguarded.
"""
from app.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC = "public"
# Ordered: each level may do what the ones below it may. A record token adds to reading only what appends to
# the ledger (events, snapshots, poll runs), so a leaked pipeline token cannot edit or delete history.
READ, RECORD, WRITE, ADMIN = 1, 2, 3, 4

RULES = {
    "static": PUBLIC,
    "assets.plotly_js": PUBLIC,
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "health.metrics": READ,  # Prometheus scrapes with a read-scope token (docs/operations.md, "Metrics")
    "hooks.receive": PUBLIC,  # authenticated by the webhook source's own secret (SELF_AUTHENTICATED)
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "pages.timeline": READ,
    "pages.event_detail": READ,
    "pages.edit_event": WRITE,
    "pages.end_event": WRITE,
    "pages.delete_event": WRITE,
    "pages.quick_edit": WRITE,
    "pages.quick_outage": WRITE,
    "ledger.list_events": READ,
    "ledger.save_search": READ,  # like the API: anyone may keep their own searches
    "ledger.delete_search": READ,  # owners (and admins) only, checked by the domain
    "ledger.new_event": WRITE,
    "ledger.record_event": WRITE,
    "csv_exchange.form": WRITE,
    "csv_exchange.upload": WRITE,
    "csv_exchange.confirm": WRITE,
    "csv_exchange.template": READ,  # the file format is no secret; importing it needs write
    "suspects.search": READ,
    "account.tokens": READ,
    "account.create_token": READ,
    "account.revoke_token": READ,
    "admin.users": ADMIN,
    "admin.create_user": ADMIN,
    "admin.update_user": ADMIN,
    "admin.audit_trail": ADMIN,
    "api.events.list_events": READ,
    "api.events.create_event": RECORD,
    "api.events.get_event": READ,
    "api.events.update_event": RECORD,  # record: only to end an event it recorded itself (check_finishing)
    "api.events.delete_event": WRITE,
    "api.events.event_history": READ,
    "api.csv_exchange.export_events": READ,
    "api.csv_exchange.import_events": WRITE,
    "api.timeline.get_timeline": READ,
    "api.correlation.related_events": READ,
    "api.correlation.list_suspects": READ,
    "api.annotations.list_annotations": READ,
    "api.docs.openapi_document": READ,
    "api.docs.docs_page": READ,
    "api.docs.docs_asset": PUBLIC,
    "api.tokens.list_tokens": READ,
    "api.tokens.create_token": READ,
    "api.tokens.revoke_token": READ,
    "api.users.list_users": ADMIN,
    "api.users.create_user": ADMIN,
    "api.users.get_user": ADMIN,
    "api.users.update_user": ADMIN,
    "api.sources.list_sources": ADMIN,
    "api.sources.create_source": ADMIN,
    "api.sources.get_source": ADMIN,
    "api.sources.update_source": ADMIN,
    "api.sources.delete_source": ADMIN,
    "api.inbox.list_items": ADMIN,
    "api.inbox.get_item": ADMIN,
    "api.inbox.replay_item": ADMIN,
    "ingest.sources_page": ADMIN,
    "ingest.create_source": ADMIN,
    "ingest.edit_source": ADMIN,
    "ingest.update_source": ADMIN,
    "ingest.delete_source": ADMIN,
    "ingest.inbox_page": ADMIN,
    "ingest.replay_item": ADMIN,
    "catalogue.agents": READ,
    "catalogue.agent_detail": READ,
    "catalogue.update_agent": WRITE,
    "catalogue.tools": READ,
    "catalogue.tool_detail": READ,
    "catalogue.update_tool": WRITE,
    "catalogue.toolchains": READ,
    "catalogue.toolchain_detail": READ,
    "catalogue.update_toolchain": WRITE,
    "fleet.fleet_page": READ,
    "api.snapshots.submit_snapshot": RECORD,
    "api.poll_runs.record_poll_run": RECORD,
    "api.fleet.get_fleet": READ,
    "comments.add_comment": WRITE,
    "api.agents.list_items": READ,
    "api.agents.create_item": WRITE,
    "api.agents.get_item": READ,
    "api.agents.update_item": WRITE,
    "api.agents.delete_item": WRITE,
    "api.tools.list_items": READ,
    "api.tools.create_item": WRITE,
    "api.tools.get_item": READ,
    "api.tools.update_item": WRITE,
    "api.tools.delete_item": WRITE,
    "api.toolchains.list_items": READ,
    "api.toolchains.create_item": WRITE,
    "api.toolchains.get_item": READ,
    "api.toolchains.update_item": WRITE,
    "api.toolchains.delete_item": WRITE,
    "api.comments.list_comments": READ,
    "api.comments.create_comment": WRITE,
    "api.saved_searches.list_saved_searches": READ,
    "api.saved_searches.create_saved_search": READ,  # anyone may keep their own; owners/admins edit (domain)
    "api.saved_searches.get_saved_search": READ,
    "api.saved_searches.update_saved_search": READ,
    "api.saved_searches.delete_saved_search": READ,
}

# Endpoints that never touch the database (no connection is opened for them).
NO_DATABASE = {"static", "assets.plotly_js", "health.healthz", "api.docs.docs_asset"}

# Public endpoints that check their caller themselves: their Authorization header carries a webhook secret, not an
# API token, and senders are machines without sessions, so neither token lookup nor CSRF applies.
SELF_AUTHENTICATED = {"hooks.receive"}


def required_level(endpoint):
    return RULES.get(endpoint)


LEVEL_NAMES = {READ: "read", RECORD: "record", WRITE: "write", ADMIN: "admin"}


# What a record-level caller may change of an event: the end and outcome of one it recorded itself, as
# recordChange's block form does (it records the start, then PATCHes the end) -- never another's event.
RECORD_MAY_FINISH = ("ended_at", "severity", "metadata")


def check_finishing(actor, event, patch):
    """Raise Forbidden unless a record-level ``actor`` may apply ``patch`` to ``event`` (an event dict)."""
    others = sorted(set(patch) - set(RECORD_MAY_FINISH))
    if others:
        raise Forbidden("A record token may change only %s of an event it recorded; %s needs write access." % (
            ", ".join(RECORD_MAY_FINISH), ", ".join(others)))
    # created_by is the recording actor's name: its user and token ("ci-bot (token jenkins)").
    if event["created_by"] != actor.name:
        raise Forbidden("A record token may change only the events it recorded itself; this needs write access.")
