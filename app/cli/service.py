"""Running the service: the web server (gunicorn), the worker, and the instance folder `make run` prepares."""
import logging
import os
import shutil
import sys

import click

from app.cli.context import build_app


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--log-format", type=click.Choice(["json", "text"]), envvar="CHANGETRACKER_LOG_FORMAT", default="json",
              show_default=True, help="Request log lines: JSON objects, or gunicorn's text for development.")
@click.option("--control-socket", metavar="PATH", help="Open gunicorn's control socket here (default: none).")
def serve(bind, workers, threads, log_format, control_socket):
    """Serve the web UI and API with gunicorn."""
    from app.http import serving
    from app.http.metrics import MULTIPROCESS_ENV

    app = build_app()  # fail here, with a clear message, if the configuration is unusable
    # /metrics sums the request counts of every gunicorn process (prometheus_client's multiprocess mode). Our
    # own folder holds this run's counts only, so it starts empty; one you name is yours to empty.
    if not os.environ.get(MULTIPROCESS_ENV):
        directory = os.path.join(app.instance_path, "prometheus")
        shutil.rmtree(directory, ignore_errors=True)
        os.environ[MULTIPROCESS_ENV] = directory
    os.makedirs(os.environ[MULTIPROCESS_ENV], exist_ok=True)
    os.execv(sys.executable, serving.gunicorn_command(bind, workers, threads, log_format, control_socket))


@click.command()
@click.option("--once", is_flag=True, help="Drain what is due now, then exit (no schedule).")
@click.option("--no-schedule", is_flag=True, help="Only drain the inbox: never run pollers, retention or backups.")
def worker(once, no_schedule):
    """Process the webhook inbox and run the schedule (pollers, retention, backups) in one worker per deployment."""
    from app.ops.worker import Worker

    logging.getLogger("app").setLevel(logging.INFO)
    process = Worker(build_app(), schedule=not no_schedule)
    if not once:
        process.install_signal_handlers()
    process.run(once=once)


@click.command("init-instance")
def init_instance():
    """Write a secret key to <instance>/secret_key if missing (CHANGETRACKER_INSTANCE_PATH, default ./instance)."""
    from app import ROOT, config

    instance = os.environ.get("CHANGETRACKER_INSTANCE_PATH") or os.path.join(ROOT, "instance")
    click.echo("secret key in %s" % config.write_instance_secret_key(instance))
