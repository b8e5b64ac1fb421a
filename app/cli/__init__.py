"""The ``changetracker`` command line: serve, migrate, seed, manage users and tokens (create, list, revoke), import and export CSV, back up,
restore and purge, poll. One module per area; each command is added to ``main`` here."""
import logging

import click

from app.cli import accounts, backups, database, ledger, polling, service


@click.group()
def main():
    """Change Tracker: a change ledger for Jenkins fleets."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


for command in (service.serve, database.db, accounts.seed, accounts.users, accounts.tokens, ledger.import_events,
                ledger.export_events, backups.backup, backups.restore, backups.purge, service.worker, polling.poll,
                service.init_instance):
    main.add_command(command)
