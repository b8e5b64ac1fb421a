"""What the pollers watch: one TOML file (several controllers, registries, packages) plus the environment.

The file is ``CHANGETRACKER_POLLERS_FILE`` (default ``instance/pollers.toml``; a missing default file
means "nothing configured"). ``CHANGETRACKER_JENKINS_URL``/``_USER``/``_TOKEN`` add one controller
without a file. Secrets belong in the environment: ``token_env``/``password_env`` name the variable
that holds them (a literal ``token``/``password`` in the file works too; keep the file mode 0600).
Unknown keys are refused, so a typo is an error rather than a silently ignored setting. See docs/pollers.md.
"""
import os
import tomllib
from dataclasses import dataclass
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

PREFIX = "CHANGETRACKER_"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_CONCURRENCY = 8
DEFAULT_HISTORY = 20
PACKAGE_INDEXES = ("pypi", "npm", "json")
DEFAULT_INDEX_URLS = {"pypi": "https://pypi.org", "npm": "https://registry.npmjs.org"}


class PollerConfigError(ValueError):
    """The pollers file or environment cannot be used; the message says where and why."""


@dataclass(frozen=True)
class JenkinsController:
    name: str
    url: str
    user: str | None = None
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY
    exclude: tuple = ()  # fnmatch patterns of agent names not to watch


@dataclass(frozen=True)
class Registry:
    name: str
    url: str
    images: tuple = ()  # "repository:tag", e.g. "library/python:3.12"
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES


@dataclass(frozen=True)
class PackageSource:
    index: str  # pypi | npm | json
    name: str
    url: str
    field: str | None = None  # json only: dotted path to the version, e.g. "release.version" or "items.0.v"
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES


@dataclass(frozen=True)
class PollerSettings:
    jenkins: tuple = ()
    registries: tuple = ()
    packages: tuple = ()
    snapshot_history: int = DEFAULT_HISTORY
    source: str | None = None  # the file it came from, for messages
    push_concurrency: int = 4

    def configured(self, poller):
        return bool({"jenkins": self.jenkins, "registry": self.registries, "packages": self.packages}[poller])


# --- the file's shape ------------------------------------------------------------------------------

def _url(**kwargs):
    return fields.Url(require_tld=False, schemes={"http", "https"}, **kwargs)


class _Defaults(Schema):
    class Meta:
        unknown = RAISE

    timeout = fields.Float(validate=validate.Range(min=0.1, max=600))
    retries = fields.Integer(strict=True, validate=validate.Range(min=0, max=10))
    concurrency = fields.Integer(strict=True, validate=validate.Range(min=1, max=64))


class _Jenkins(_Defaults):
    name = fields.String(validate=validate.Length(min=1, max=100))
    url = _url(required=True)
    user = fields.String()
    token = fields.String()
    token_env = fields.String()
    exclude = fields.List(fields.String())


class _Registry(_Defaults):
    name = fields.String(validate=validate.Length(min=1, max=100))
    url = _url(required=True)
    images = fields.List(fields.String(validate=validate.Regexp(
        r"^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
        error="Must be repository:tag, e.g. library/python:3.12.")), required=True, validate=validate.Length(min=1))
    username = fields.String()
    password = fields.String()
    password_env = fields.String()


class _Package(_Defaults):
    index = fields.String(required=True, validate=validate.OneOf(PACKAGE_INDEXES))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    url = _url()
    field = fields.String(validate=validate.Length(min=1))

    @validates_schema
    def _json_needs_url_and_field(self, data, **kwargs):
        if data.get("index") == "json" and not (data.get("url") and data.get("field")):
            raise ValidationError("A json source needs url (the JSON document) and field (e.g. release.version).")


class _File(Schema):
    class Meta:
        unknown = RAISE

    defaults = fields.Nested(_Defaults, load_default=dict)
    jenkins = fields.List(fields.Nested(_Jenkins), load_default=list)
    registry = fields.List(fields.Nested(_Registry), load_default=list)
    package = fields.List(fields.Nested(_Package), load_default=list)


# --- loading -----------------------------------------------------------------------------------------

def default_path(environ=None, instance_path=None):
    environ = os.environ if environ is None else environ
    if environ.get(PREFIX + "POLLERS_FILE"):
        return environ[PREFIX + "POLLERS_FILE"], True
    if instance_path is None:
        instance_path = environ.get(PREFIX + "INSTANCE_PATH") or default_instance_path()
    return os.path.join(instance_path, "pollers.toml"), False


def default_instance_path(package_file=__file__):
    """The app's default instance folder: ``instance`` in the source tree the package runs from (make run), else in
    the working directory (an install with ``pip install .`` puts the package in site-packages, where no pollers
    file belongs)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(package_file)))))
    return os.path.join(root if os.path.exists(os.path.join(root, "setup.cfg")) else os.getcwd(), "instance")


def load(path=None, environ=None, instance_path=None, snapshot_history=None):
    """PollerSettings from the pollers file and the environment (``environ``, default os.environ).

    ``path`` None: CHANGETRACKER_POLLERS_FILE, else instance/pollers.toml when it exists."""
    environ = os.environ if environ is None else environ
    explicit = path is not None
    if path is None:
        path, explicit = default_path(environ, instance_path)
    data = {}
    if os.path.exists(path):
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise PollerConfigError("%s is not valid TOML: %s" % (path, exc)) from None
    elif explicit:
        raise PollerConfigError("pollers file %s does not exist" % path)
    try:
        loaded = _File().load(data)
    except ValidationError as exc:
        raise PollerConfigError("%s: %s" % (path, _flatten(exc.messages))) from None

    defaults = loaded["defaults"]
    controllers = [_controller(entry, defaults, environ, path) for entry in loaded["jenkins"]]
    env_url = environ.get(PREFIX + "JENKINS_URL")
    if env_url and not any(c.url.rstrip("/") == env_url.rstrip("/") for c in controllers):
        controllers.insert(0, JenkinsController(
            name=urlsplit(env_url).netloc or env_url, url=env_url,
            user=environ.get(PREFIX + "JENKINS_USER") or None, token=environ.get(PREFIX + "JENKINS_TOKEN") or None,
            **_common(defaults, {}, concurrency=True)))
    _unique_names("jenkins", controllers, path)
    registries = [_registry(entry, defaults, environ, path) for entry in loaded["registry"]]
    _unique_names("registry", registries, path)
    packages = [PackageSource(index=e["index"], name=e["name"], url=e.get("url") or DEFAULT_INDEX_URLS[e["index"]],
                              field=e.get("field"), **_common(defaults, e)) for e in loaded["package"]]
    history = snapshot_history
    if history is None:
        raw = environ.get(PREFIX + "SNAPSHOT_HISTORY")
        history = int(raw) if raw else DEFAULT_HISTORY
    return PollerSettings(jenkins=tuple(controllers), registries=tuple(registries), packages=tuple(packages),
                          snapshot_history=history, source=path if os.path.exists(path) else None)


def _controller(entry, defaults, environ, path):
    return JenkinsController(
        name=entry.get("name") or urlsplit(entry["url"]).netloc, url=entry["url"], user=entry.get("user"),
        token=_secret(entry, "token", environ, path), exclude=tuple(entry.get("exclude", ())),
        **_common(defaults, entry, concurrency=True))


def _registry(entry, defaults, environ, path):
    return Registry(
        name=entry.get("name") or urlsplit(entry["url"]).netloc, url=entry["url"], images=tuple(entry["images"]),
        username=entry.get("username"), password=_secret(entry, "password", environ, path),
        **_common(defaults, entry))


def _common(defaults, entry, concurrency=False):
    values = {"timeout": entry.get("timeout", defaults.get("timeout", DEFAULT_TIMEOUT)),
              "retries": entry.get("retries", defaults.get("retries", DEFAULT_RETRIES))}
    if concurrency:
        values["concurrency"] = entry.get("concurrency", defaults.get("concurrency", DEFAULT_CONCURRENCY))
    return values


def _secret(entry, name, environ, path):
    variable = entry.get(name + "_env")
    if variable:
        if not environ.get(variable):
            raise PollerConfigError("%s: %s_env names %s, which is not set" % (path, name, variable))
        return environ[variable]
    return entry.get(name)


def _unique_names(kind, items, path):
    names = [item.name for item in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise PollerConfigError("%s: two [[%s]] entries are named %s; give each its own name" % (
            path, kind, ", ".join(twice)))


def _flatten(messages, prefix=""):
    parts = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            parts.append(_flatten(value, "%s%s." % (prefix, key)))
    else:
        parts.append("%s %s" % (prefix.rstrip("."), " ".join(map(str, messages))))
    return "; ".join(p for p in parts if p)


def load_for_app(app_config, instance_path, environ=None):
    """PollerSettings as an app configured them: its POLLERS_FILE, SNAPSHOT_HISTORY and JENKINS_* (which
    may come from test overrides rather than the environment)."""
    environ = dict(os.environ if environ is None else environ)
    for name in ("JENKINS_URL", "JENKINS_USER", "JENKINS_TOKEN"):
        if app_config.get(name):
            environ[PREFIX + name] = app_config[name]
    return load(path=app_config.get("POLLERS_FILE") or None, environ=environ, instance_path=instance_path,
                snapshot_history=app_config.get("SNAPSHOT_HISTORY"))
