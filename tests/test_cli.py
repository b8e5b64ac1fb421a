"""The changetracker command line, through Flask's CliRunner."""
from app.accounts import tokens, users
from app.cli import main
from app.models import ApiToken, Event, User
from tests.conftest import PASSWORD, connected


def test_users_create_and_tokens_create_print_the_secret_last(app, runner):
    result = runner.invoke(main, ["users", "create", "ci-bot", "--role", "editor", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["tokens", "create", "--user", "ci-bot", "--scope", "write", "--name", "nightly", "--expires", "30"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("ct_")
    with connected(app):
        token, user = tokens.resolve_token(secret)
        assert (user.username, token.name, token.scopes) == ("ci-bot", "nightly", "write")
        assert token.expires_at is not None
        assert secret not in {t.secret_hash for t in ApiToken.select()}  # only a hash is stored
        assert all(secret[3:15] == t.prefix for t in ApiToken.select())


def test_users_create_prompts_for_password(app, runner):
    result = runner.invoke(main, ["users", "create", "alice", "--role", "viewer"], input="%s\n%s\n" % (PASSWORD, PASSWORD))
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with connected(app):
        assert User.get(User.username == "alice").role == "viewer"


def test_weak_password_and_duplicate_user_are_refused(app, runner):
    result = runner.invoke(main, ["users", "create", "bob", "--role", "viewer", "--password", "short"])
    assert result.exit_code == 2
    assert "password" in result.output and "at least 10" in result.output
    assert runner.invoke(main, ["users", "create", "bob", "--password", PASSWORD]).exit_code == 0
    result = runner.invoke(main, ["users", "create", "BOB", "--password", PASSWORD])
    assert result.exit_code == 2 and "Already taken" in result.output
    result = runner.invoke(main, ["tokens", "create", "--user", "Bob", "--scope", "read"])
    assert result.exit_code == 0 and "for bob" in result.output  # found whatever the case


def test_token_scope_is_capped_by_role(app, runner):
    runner.invoke(main, ["users", "create", "viewer1", "--role", "viewer", "--password", PASSWORD])
    result = runner.invoke(main, ["tokens", "create", "--user", "viewer1", "--scope", "write"])
    assert result.exit_code == 2
    assert "viewer may not hold the write scope" in result.output
    result = runner.invoke(main, ["tokens", "create", "--user", "nobody", "--scope", "read"])
    assert result.exit_code == 2 and "no user named" in result.output


def test_seed_creates_admin_once_and_demo_events_once(app, runner):
    result = runner.invoke(main, ["seed", "--events", "12"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ")[1].split()[0]
    with connected(app):
        assert users.authenticate("admin", password).role == "admin"
        assert Event.select().count() == 12
    again = runner.invoke(main, ["seed"])
    assert "password" not in again.output and "already has events" in again.output
    with connected(app):
        assert Event.select().count() == 12


def test_db_status_reports_applied_migrations(app, runner):
    result = runner.invoke(main, ["db", "status"])
    assert result.exit_code == 0
    assert "[x] 0001_core_ledger" in result.output
