"""Correlation: the questions asked of the ledger after something broke.

Owns the events related to one event (``related``: sharing an agent, tool or toolchain within a window, and
rollback partners) and the suspects of a failed build (``suspects``: the changes that could explain it, ranked by
the rules and weights of ``evidence``).
Reads only; writes nothing.

May import the kernel and app.ledger; never Flask, werkzeug or delivery (app.web, app.api, app.hooks, app.http).
"""
