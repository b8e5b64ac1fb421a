"""The gunicorn command line of ``changetracker serve``."""
import sys

from gunicorn.config import KNOWN_SETTINGS

from app.http.access_log import FORMATS


def gunicorn_command(bind, workers, threads, log_format="json", control_socket=None):
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(workers), "--threads", str(threads),
            "--access-logfile", "-", "--logger-class", FORMATS[log_format], *_control_socket(control_socket),
            "app:create_app()"]


def _control_socket(path):
    """gunicorn 25.1+ opens a control socket at one path per user by default ($XDG_RUNTIME_DIR or ~/.gunicorn),
    shared by every instance that user runs: none unless a path is given (older gunicorns have none)."""
    if not any(setting.name == "control_socket" for setting in KNOWN_SETTINGS):
        return []
    return ["--control-socket", path] if path else ["--no-control-socket"]
