"""RBAC on every route: walk the whole URL map as every kind of caller.

A route added without a rule in app/access.py fails here (and is refused at run time).
"""
import re

import pytest
from werkzeug.routing import IntegerConverter

from app.http.rules import IdConverter
from app.accounts.access import ADMIN, PUBLIC, READ, RECORD, RULES, WRITE

IDENTITIES = {
    # name: (how, role or scope, level)
    "anonymous": (None, None, 0),
    "viewer": ("session", "viewer", READ),
    "editor": ("session", "editor", WRITE),
    "admin": ("session", "admin", ADMIN),
    "read-token": ("token", "read", READ),
    "record-token": ("token", "record", RECORD),  # what pipelines and pollers hold: append-only
    "write-token": ("token", "write", WRITE),
    "admin-token": ("token", "admin", ADMIN),
}


def served_apps(app):
    """The main app and the ones mounted in front of it (app.hooks.Mount): the walk covers every URL served."""
    apps, wsgi = [app], app.wsgi_app
    while hasattr(wsgi, "main"):
        apps.append(wsgi.hooks_app)
        wsgi = wsgi.main
    return apps


def routes(app):
    for served in served_apps(app):
        for rule in served.url_map.iter_rules():
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_the_walk_covers_the_webhook_receivers(app):
    assert {"POST /hooks/<any(jenkins, registry, generic):kind>/<source>"} <= {
        "%s %s" % (method, rule.rule) for rule, method in routes(app)}


def test_every_route_has_an_access_rule(app):
    missing = sorted({rule.endpoint for rule, _ in routes(app)} - set(RULES))
    assert not missing, "routes without an access rule in app/access.py: %s" % missing


def test_no_stale_rules(app):
    endpoints = {rule.endpoint for rule, _ in routes(app)}
    assert not set(RULES) - endpoints


def _path(rule):
    # Ids that do not exist: the walk checks access, and must not revoke or delete what it walks with.
    values = {arg: 999999 if isinstance(rule._converters[arg], (IntegerConverter, IdConverter)) else "no-such-name"
              for arg in rule.arguments}
    return re.sub(r"<[^>]+>", lambda m: str(values[m.group(0).strip("<>").split(":")[-1]]), rule.rule)


@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_rbac_matrix(app, auth, identity):
    how, grant, level = IDENTITIES[identity]
    client = app.test_client()
    headers = {}
    if how == "session":
        auth.client = client
        assert auth.login(identity, role=grant).status_code == 302
    elif how == "token":
        role = {"read": "viewer", "record": "editor", "write": "editor", "admin": "admin"}[grant]
        headers = {"Authorization": "Bearer " + auth.token(role=role, scope=grant, username=role + "-tok")}
    csrf = auth.csrf_token("/login") if how == "session" else None

    failures = []
    for rule, method in routes(app):
        if rule.endpoint == "auth.logout":
            continue  # would end the session mid-walk; covered by the page tests
        needed = RULES[rule.endpoint]
        data = {"csrf_token": csrf} if csrf and method != "GET" else None
        with client.open(_path(rule), method=method, headers=headers, data=data) as response:
            status = response.status_code
            refused_login = status == 401 and "Authentication required" in response.get_data(as_text=True)
        if needed == PUBLIC:
            ok = status != 403 and not refused_login  # POST /login with no password is a 401 of its own
        elif level == 0:
            ok = refused_login or (status == 302 and "/login" in response.headers["Location"])
        elif level < needed:
            ok = status == 403
        else:
            ok = status not in (401, 403)
        if not ok:
            failures.append("%s %s -> %d (needs %s)" % (method, rule.rule, status, needed))
    assert not failures, "\n".join(failures)
