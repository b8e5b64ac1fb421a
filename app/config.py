"""One configuration object: defaults, then CHANGETRACKER_* environment, then test overrides."""
import logging
import os
import secrets
from datetime import timedelta

log = logging.getLogger(__name__)

PREFIX = "CHANGETRACKER_"
# .env.example's stand-in for the secret key (change-me-to-64-random-hex-characters): refused, never used as a key.
PLACEHOLDER_SECRET_KEY = "change-me"


class ConfigError(RuntimeError):
    """The service cannot start with the configuration it was given."""


def _as_bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


# name -> (default, converter); every key can be set as CHANGETRACKER_<NAME>.
DEFAULTS = {
    "ENV": ("production", str),
    "DATABASE_URL": (None, str),
    "SECRET_KEY": (None, str),
    "SESSION_COOKIE_SECURE": (True, _as_bool),
    "DEDUPE_WINDOW_MINUTES": (60, int),
    # A change a poller or webhook detects is unplanned without an intent recorded this long before it.
    "UNPLANNED_WINDOW_MINUTES": (120, int),
    # The most markers (an event in each of its lanes) the timeline draws one by one; past it, per-lane groups.
    "TIMELINE_MAX_EVENTS": (1500, int),
    "MAX_BODY_BYTES": (1024 * 1024, int),
    "MAX_IMPORT_BYTES": (50 * 1024 * 1024, int),  # POST /api/v1/events/import only
    "LOGIN_RATE_LIMIT": ("10 per minute", str),
    "RATELIMIT_STORAGE_URI": ("memory://", str),
    # How long a SQLite writer waits for the write lock (e.g. behind a big import) before its request answers
    # 503 with Retry-After; the pool's wait for a free connection too.
    "SQLITE_BUSY_TIMEOUT_MS": (30000, int),
    # Connections kept open per process and handed from request to request (app.db); 0: one per request.
    "DATABASE_POOL_SIZE": (20, int),
    "DATABASE_POOL_RECYCLE_SECONDS": (3600, int),  # a pooled connection older than this is replaced
    "JENKINS_URL": (None, str),
    "JENKINS_USER": (None, str),
    "JENKINS_TOKEN": (None, str),
    # Pollers (docs/pollers.md): the file of controllers, registries and packages (default
    # <instance>/pollers.toml) and how many distinct snapshots to keep per observed key.
    "POLLERS_FILE": (None, str),
    "SNAPSHOT_HISTORY": (20, int),
    # A poll run still "running" after this long is shown (and stored) as abandoned: its process died.
    "POLL_RUN_TIMEOUT_MINUTES": (120, int),
    "POLL_RUN_RETENTION_DAYS": (90, int),  # finished runs older than this go (each poller's newest stays)
    # Webhooks and the inbox worker (docs/webhooks.md, docs/operations.md "The worker").
    "WEBHOOK_MAX_BYTES": (1024 * 1024, int),
    "WEBHOOK_RATE_LIMIT": ("600 per minute", str),  # per source
    "WEBHOOK_AUTH_FAILURE_LIMIT": ("60 per minute", str),  # per client address, failed authentications only
    "WEBHOOK_SOURCE_CACHE_SECONDS": (2.0, float),  # how long a receiver trusts its copy of a source
    "INBOX_BATCH_SIZE": (100, int),
    "INBOX_MAX_ATTEMPTS": (5, int),
    "INBOX_RETRY_BASE_SECONDS": (30.0, float),
    "INBOX_RETRY_MAX_SECONDS": (3600.0, float),
    "INBOX_CLAIM_TIMEOUT_SECONDS": (300.0, float),
    "INBOX_RETENTION_DAYS": (30, int),
    "INBOX_DEAD_RETENTION_DAYS": (90, int),
    # Events older than this are purged hourly by the worker, as `changetracker purge --older-than` does;
    # 0 keeps every event.
    "EVENT_RETENTION_DAYS": (0, int),
    "WORKER_IDLE_SECONDS": (1.0, float),
    "WORKER_LEASE_SECONDS": (60, int),
    "WORKER_POLLERS": ("jenkins,registry,packages", str),
    "WORKER_POLL_MINUTES": (60, int),  # 0: the worker runs no pollers
    "WORKER_BACKUP_HOURS": (0, int),  # 0: no scheduled backups
    "BACKUP_DIR": (None, str),  # default: <instance>/backups
    "BACKUP_KEEP": (7, int),
}


def load(instance_path, test_config=None):
    """Build the Flask config mapping for an app rooted at ``instance_path``."""
    values = {}
    for name, (default, convert) in DEFAULTS.items():
        raw = os.environ.get(PREFIX + name)
        values[name] = convert(raw) if raw not in (None, "") else default
    if test_config:
        values.update(test_config)

    if values["UNPLANNED_WINDOW_MINUTES"] < 1:
        raise ConfigError("CHANGETRACKER_UNPLANNED_WINDOW_MINUTES must be at least 1 (got %d)."
                          % values["UNPLANNED_WINDOW_MINUTES"])

    if not values["DATABASE_URL"]:
        os.makedirs(instance_path, exist_ok=True)  # SQLite creates the file, not its folder
        values["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "changetracker.db")

    if values["SECRET_KEY"] and values["SECRET_KEY"].strip().lower().startswith(PLACEHOLDER_SECRET_KEY):
        raise ConfigError(
            "CHANGETRACKER_SECRET_KEY is still the placeholder of .env.example: set a random one (e.g. `python -c "
            "'import secrets; print(secrets.token_hex(32))'`), or leave it unset to use %s"
            % os.path.join(instance_path, "secret_key"))
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _secret_key_from_instance(instance_path)
    if not values["SECRET_KEY"]:
        if values["ENV"] in {"development", "test"} or values.get("TESTING"):
            log.warning("no CHANGETRACKER_SECRET_KEY set: using a throw-away key (sessions end at restart)")
            values["SECRET_KEY"] = secrets.token_hex(32)
        else:
            raise ConfigError(
                "CHANGETRACKER_SECRET_KEY is not set. Set it (e.g. `python -c 'import secrets; "
                "print(secrets.token_hex(32))'`) or write one to %s" % os.path.join(instance_path, "secret_key")
            )

    flask = {
        "SECRET_KEY": values["SECRET_KEY"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": values["SESSION_COOKIE_SECURE"],
        "SESSION_COOKIE_NAME": "changetracker_session",
        "REMEMBER_COOKIE_NAME": "remember_token",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": values["SESSION_COOKIE_SECURE"],
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "MAX_CONTENT_LENGTH": values["MAX_BODY_BYTES"],
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": values["RATELIMIT_STORAGE_URI"],
        "RATELIMIT_HEADERS_ENABLED": True,
        "JSON_SORT_KEYS": False,
    }
    values.update(flask)
    return values


def _secret_key_from_instance(instance_path):
    path = os.path.join(instance_path, "secret_key")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or None
    return None


def write_instance_secret_key(instance_path):
    """Create ``instance/secret_key`` (mode 0600) unless it exists; return its path."""
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path


def dedupe_window(config):
    """How long repeats of a ``dedupe_key`` fold into one event: DEDUPE_WINDOW_MINUTES of ``config`` (the app's
    configuration), for every way in that records events one at a time (API, pages, webhook retries)."""
    return timedelta(minutes=config["DEDUPE_WINDOW_MINUTES"])


def unplanned_window(config):
    """How long before a detected change an intent explains it: UNPLANNED_WINDOW_MINUTES of ``config``."""
    return timedelta(minutes=config["UNPLANNED_WINDOW_MINUTES"])
