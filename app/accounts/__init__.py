"""Accounts: who is acting and what they may do.

Owns users and their argon2 passwords (``users``), API tokens stored only as hashes (``tokens``), their schemas,
the one deny-by-default table of the level each route needs (``access``, enforced by app.http.guard), and the audit
trail every write leaves (``audit``: the ``Actor`` and ``record``).

May import the kernel (app.db, app.models, app.fields, app.errors) and nothing of the other capabilities; never
Flask, werkzeug or delivery (app.web, app.api, app.hooks, app.http).
"""
