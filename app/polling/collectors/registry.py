"""Docker image tags → manifest digests through the Registry HTTP API v2.

``HEAD /v2/<repository>/manifests/<tag>`` with the manifest media types in ``Accept`` answers the
digest in ``Docker-Content-Digest``; a registry that omits it (or refuses HEAD) gets a GET, and the
digest is the sha256 of the manifest bytes. Authentication follows the registry's challenge: a 401
with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` → a token from the realm (with the
configured credentials, if any) → the request again with ``Authorization: Bearer``; a ``Basic``
challenge → the credentials directly. Tokens are kept per scope for the run.

Observation ``docker_image``, key ``<registry>/<repository>:<tag>``, content
``{"image", "digest", "media_type"}``.
"""
import hashlib
import logging

import requests
from requests.utils import parse_dict_header

from app.polling.collectors import Collected, error, observation
from app.polling.collectors.http_session import session

log = logging.getLogger(__name__)

MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))


class RegistryError(Exception):
    """The registry refused or failed to answer; the message is for the poll summary."""


class RegistryClient:
    def __init__(self, registry):
        self.registry = registry
        self.base = registry.url.rstrip("/")
        self.http = session(registry.retries)
        self.tokens = {}  # (realm, service, scope) -> bearer token

    def digest(self, repository, tag):
        """(digest, media type) of ``repository:tag``."""
        url = "%s/v2/%s/manifests/%s" % (self.base, repository, tag)
        response = self._request("HEAD", url)
        digest = response.headers.get("Docker-Content-Digest")
        if response.status_code == 200 and digest:
            return digest, _media_type(response)
        if response.status_code not in (200, 405):
            raise RegistryError(_refusal(response, repository, tag))
        response = self._request("GET", url)
        if response.status_code != 200:
            raise RegistryError(_refusal(response, repository, tag))
        digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(response.content).hexdigest()
        return digest, _media_type(response)

    def _request(self, method, url):
        headers = {"Accept": MANIFEST_TYPES}
        response = self.http.request(method, url, headers=headers, timeout=self.registry.timeout)
        if response.status_code != 401:
            return response
        scheme, _, params = response.headers.get("WWW-Authenticate", "").partition(" ")
        if scheme.lower() == "bearer":
            challenge = parse_dict_header(params)
            headers["Authorization"] = "Bearer " + self._token(challenge)
            return self.http.request(method, url, headers=headers, timeout=self.registry.timeout)
        if scheme.lower() == "basic" and self.registry.username:
            return self.http.request(method, url, headers=headers, timeout=self.registry.timeout,
                                     auth=(self.registry.username, self.registry.password or ""))
        return response

    def _token(self, challenge):
        realm = challenge.get("realm")
        if not realm:
            raise RegistryError("401 with a Bearer challenge that names no realm")
        key = (realm, challenge.get("service"), challenge.get("scope"))
        if key not in self.tokens:
            params = {name: challenge[name] for name in ("service", "scope") if challenge.get(name)}
            auth = (self.registry.username, self.registry.password or "") if self.registry.username else None
            response = self.http.get(realm, params=params, auth=auth, timeout=self.registry.timeout)
            if response.status_code != 200:
                raise RegistryError("token endpoint %s answered %d%s" % (
                    realm, response.status_code, "" if auth else " (no credentials configured)"))
            try:
                body = response.json()
                self.tokens[key] = body.get("token") or body["access_token"]
            except (ValueError, KeyError, AttributeError):
                raise RegistryError("token endpoint %s answered no token" % realm) from None
        return self.tokens[key]


def _media_type(response):
    return (response.headers.get("Content-Type") or "").split(";")[0].strip() or None


def _refusal(response, repository, tag):
    if response.status_code == 401:
        return "%s:%s: 401 unauthorized (check the registry's username/password)" % (repository, tag)
    if response.status_code == 404:
        return "%s:%s: not found (404)" % (repository, tag)
    return "%s:%s: HTTP %d" % (repository, tag, response.status_code)


def collect_registry(registry):
    result = Collected(stats={"images": len(registry.images)})
    client = RegistryClient(registry)
    for image in registry.images:
        repository, _, tag = image.rpartition(":")
        target = "%s/%s" % (registry.name, image)
        try:
            digest, media_type = client.digest(repository, tag)
        except (RegistryError, requests.RequestException) as exc:
            log.warning("registry %s: %s", registry.name, exc)
            result.errors.append(error(target, exc))
            continue
        result.observations.append(observation("docker_image", target, {
            "image": target, "digest": digest, "media_type": media_type}))
    return result


def collect(registries):
    result = Collected()
    for registry in registries:
        result.extend(collect_registry(registry))
    return result
