"""The ``changetracker`` command line: serve, migrate, seed, manage users and tokens (create, list, revoke), import
and export CSV, back up, restore and purge, poll, demo. One module per area; each command is added to ``main``
here."""
import logging
import os

import click
from dotenv import load_dotenv
from flask.cli import ScriptInfo

from app.cli import accounts, backups, database, ledger, polling, service


@click.group()
@click.pass_context
def main(ctx):
    """Change Tracker: a change ledger for Jenkins fleets.

    Settings come from CHANGETRACKER_* environment variables, and from ./.env (NAME=value lines, see .env.example)
    for those not set in the environment.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if ctx.find_object(ScriptInfo) is None:  # a command line, not a test's CliRunner with its own app
        load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)


for command in (service.serve, database.db, accounts.seed, accounts.users, accounts.tokens, ledger.import_events,
                ledger.export_events, backups.backup, backups.restore, backups.purge, service.worker, polling.poll,
                polling.demo, service.init_instance):
    main.add_command(command)
