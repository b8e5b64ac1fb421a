"""Package versions from package indexes: PyPI's JSON API, the npm registry, or any JSON document.

- ``pypi``: ``GET <url>/pypi/<name>/json`` → ``info.version`` (the latest release);
- ``npm``: ``GET <url>/<name>`` (a scope's ``/`` encoded) with the abbreviated-metadata Accept header
  → ``dist-tags.latest``;
- ``json``: ``GET <url>`` → the value at ``field``, a dotted path whose numeric parts index lists
  (``release.version``, ``items.0.version``).

Observation ``package``, key ``<index>/<name>``, content ``{"index", "name", "version"}``.
"""
import logging
from urllib.parse import quote

import requests

from app.polling.collectors import Collected, error, observation
from app.polling.collectors.http_session import session

log = logging.getLogger(__name__)
NPM_ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"


class PackageError(Exception):
    """The index answered, but not with a version."""


def version_url(source):
    base = source.url.rstrip("/")
    if source.index == "pypi":
        return "%s/pypi/%s/json" % (base, quote(source.name, safe=""))
    if source.index == "npm":
        return "%s/%s" % (base, quote(source.name, safe="@"))
    return source.url


def field_path(document, path):
    """The value at dotted ``path`` in a JSON document; PackageError naming the missing part."""
    value = document
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise PackageError("no %r in the document (at %r)" % (path, part))
    return value


def latest_version(http, source):
    headers = {"Accept": NPM_ABBREVIATED if source.index == "npm" else "application/json"}
    response = http.get(version_url(source), headers=headers, timeout=source.timeout)
    if response.status_code != 200:
        raise PackageError("%s answered HTTP %d" % (response.url, response.status_code))
    try:
        document = response.json()
    except ValueError:
        raise PackageError("%s did not answer JSON" % response.url) from None
    path = {"pypi": "info.version", "npm": "dist-tags.latest"}.get(source.index, source.field)
    version = field_path(document, path)
    if not isinstance(version, (str, int, float)) or isinstance(version, bool) or version == "":
        raise PackageError("%s is not a version: %r" % (path, version))
    return str(version)


def collect(sources):
    result = Collected(stats={"packages": len(sources)})
    http = session(max((s.retries for s in sources), default=2))
    for source in sources:
        key = "%s/%s" % (source.index, source.name)
        try:
            version = latest_version(http, source)
        except (PackageError, requests.RequestException) as exc:
            log.warning("package %s: %s", key, exc)
            result.errors.append(error(key, exc))
            continue
        result.observations.append(observation("package", key, {
            "index": source.index, "name": source.name, "version": version}))
    return result
