"""The ledger: events and the agents, tools and toolchains they name.

Owns the one ingest function every way in ends in (``events.record_event``, and ``record_events`` for batches:
validation, de-duplication, catalogue links, the unplanned flag (``unplanned``) and the audit entry in one
transaction), the event filters and their keyset pages (``filters``), the timeline's swimlanes and bucket counts
(``timeline``), the catalogue (``catalogue``), comments, saved searches, CSV export and import (``csv_exchange``),
Grafana annotations and the event schemas.

May import the kernel (app.db, app.dialect, app.models, app.fields, app.errors) and app.accounts (the audit
trail); never Flask, werkzeug, delivery (app.web, app.api, app.hooks, app.http) or the capabilities built on it.
"""
