"""Ingest: webhooks from Jenkins, registries and generic senders, received durably and turned into events.

Owns webhook sources with their mappings and encrypted secrets (``sources``), the checks a delivery passes before it
is stored: authentication, size, media type (``webhooks``), the durable inbox that the worker drains in batches
with retries and dead letters (``inbox``), and the mapping of each payload to event payloads (``mappings``).

May import the kernel, app.accounts, app.ledger and app.polling; never Flask, werkzeug or delivery (app.web,
app.api, app.hooks, app.http). The receivers' HTTP app is app.hooks.
"""
