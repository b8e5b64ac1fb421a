"""Polling: what pollers observe, and how an observation becomes events.

Owns the collectors (``collectors``: Jenkins, registries and package indexes observed over HTTP, returned as plain
data; they never touch the database), the poll runner (``runner``: collect, then submit here or ``push`` to a
remote tracker), snapshots and their diffs (``snapshots``, ``snapshot_diff``: the service, not the poller, decides
what changed), poll runs (``poll_runs``) and fleet drift (``fleet``).

May import the kernel, app.accounts and app.ledger; ``collectors`` imports nothing of the app outside itself (no
peewee, no models). Never Flask, werkzeug or delivery (app.web, app.api, app.hooks, app.http).
"""
