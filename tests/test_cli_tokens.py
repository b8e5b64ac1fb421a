"""A token's life from the command line: create with an expiry, list (never a secret), revoke, rotate."""
from datetime import timedelta

from app.accounts import tokens
from app.cli import main
from app.db import utcnow
from app.models import ApiToken, AuditEntry
from tests.conftest import PASSWORD, connected


def _create(runner, *args):
    result = runner.invoke(main, ["tokens", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def _table(output):
    """`tokens list` as {id: {column: value}}: columns are two or more spaces apart."""
    lines = output.strip().splitlines()
    header = lines[0]
    starts = [header.index(name) for name in header.split()]
    names = header.split()
    rows = {}
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, starts[1:] + [None])]
        rows[int(cells[0])] = dict(zip(names, cells))
    return rows


def test_tokens_list_shows_scope_expiry_last_use_and_state_but_no_secret(app, runner, client):
    runner.invoke(main, ["users", "create", "ci-bot", "--role", "editor", "--password", PASSWORD])
    runner.invoke(main, ["users", "create", "grafana", "--role", "viewer", "--password", PASSWORD])
    announced, jenkins = _create(runner, "--user", "ci-bot", "--scope", "record", "--name", "jenkins",
                                 "--expires", "90")
    assert announced.startswith("created token 1 'jenkins' (record) for ci-bot, expires ")
    assert announced.endswith(" (in 90 days); the secret is shown only now:")
    _, grafana = _create(runner, "--user", "grafana", "--scope", "read", "--name", "dashboards")
    assert client.get("/api/v1/events", headers={"Authorization": "Bearer " + jenkins}).status_code == 200

    result = runner.invoke(main, ["tokens", "list"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["ID", "USER", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST",
                                                     "USED", "STATE"]
    rows = _table(result.output.replace("LAST USED", "LAST_USED"))
    assert list(rows) == [2, 1], "newest first"
    assert (rows[1]["USER"], rows[1]["NAME"], rows[1]["SCOPES"], rows[1]["STATE"]) == (
        "ci-bot", "jenkins", "record", "active")
    assert rows[1]["EXPIRES"].endswith("(in 90 days)") and rows[1]["LAST_USED"] != "never"
    assert (rows[2]["EXPIRES"], rows[2]["LAST_USED"]) == ("never", "never")
    assert jenkins not in result.output and grafana not in result.output
    assert jenkins[3:15] not in result.output, "not even the prefix: the list is for people, the prefix for logs"

    only = runner.invoke(main, ["tokens", "list", "--user", "grafana"])
    assert list(_table(only.output.replace("LAST USED", "LAST_USED"))) == [2]
    missing = runner.invoke(main, ["tokens", "list", "--user", "nobody"])
    assert missing.exit_code == 2 and "No user named 'nobody'." in missing.output


def test_tokens_revoke_stops_the_token_at_once_and_is_audited(app, runner, client):
    runner.invoke(main, ["users", "create", "ci-bot", "--role", "editor", "--password", PASSWORD])
    _, secret = _create(runner, "--user", "ci-bot", "--scope", "record", "--name", "jenkins")
    headers = {"Authorization": "Bearer " + secret}
    assert client.get("/api/v1/events", headers=headers).status_code == 200

    result = runner.invoke(main, ["tokens", "revoke", "1"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("token 1 ('jenkins' of ci-bot) is revoked since ")
    refused = client.get("/api/v1/events", headers=headers)
    assert (refused.status_code, refused.json["message"]) == (401, "Token has been revoked.")
    again = runner.invoke(main, ["tokens", "revoke", "1"])
    assert again.exit_code == 0 and again.output == result.output, "revoking twice changes nothing"
    listed = _table(runner.invoke(main, ["tokens", "list"]).output.replace("LAST USED", "LAST_USED"))
    assert listed[1]["STATE"] == "revoked"
    with connected(app):
        [entry] = AuditEntry.select().where((AuditEntry.entity_type == "token") & (AuditEntry.action == "revoke"))
        assert entry.actor == "cli" and entry.after["state"] == "revoked"

    unknown = runner.invoke(main, ["tokens", "revoke", "99"])
    assert unknown.exit_code == 2 and "No token with id 99." in unknown.output
    assert runner.invoke(main, ["tokens", "revoke", "zero"]).exit_code == 2


def test_rotation_as_the_docs_describe_it(app, runner, client):
    """docs/security.md, "API tokens": create the new one, swap it in, watch the old one go quiet, revoke."""
    runner.invoke(main, ["users", "create", "ci-bot", "--role", "editor", "--password", PASSWORD])
    _, old = _create(runner, "--user", "ci-bot", "--scope", "record", "--name", "jenkins-2026", "--expires", "365")
    _, new = _create(runner, "--user", "ci-bot", "--scope", "record", "--name", "jenkins-2027", "--expires", "365")
    assert client.post("/api/v1/events", json={"title": "with the new token"},
                       headers={"Authorization": "Bearer " + new}).status_code == 201
    with connected(app):
        ApiToken.update(last_used_at=utcnow() - timedelta(days=2)).where(ApiToken.name == "jenkins-2026").execute()

    rows = _table(runner.invoke(main, ["tokens", "list", "--user", "ci-bot"]).output.replace("LAST USED", "LAST_USED"))
    assert rows[2]["LAST_USED"] > rows[1]["LAST_USED"], "the old token has not been used since the swap"
    assert runner.invoke(main, ["tokens", "revoke", "1"]).exit_code == 0

    with connected(app):
        assert tokens.resolve_token(new)[1].username == "ci-bot"
    assert client.get("/api/v1/events", headers={"Authorization": "Bearer " + old}).status_code == 401


def test_an_expired_token_says_so_in_the_list(app, runner):
    runner.invoke(main, ["users", "create", "ci-bot", "--role", "editor", "--password", PASSWORD])
    _create(runner, "--user", "ci-bot", "--scope", "record", "--expires", "1")
    with connected(app):
        ApiToken.update(expires_at=utcnow() - timedelta(hours=1)).execute()

    rows = _table(runner.invoke(main, ["tokens", "list"]).output.replace("LAST USED", "LAST_USED"))

    assert rows[1]["STATE"] == "expired" and rows[1]["EXPIRES"].endswith("(expired)")
