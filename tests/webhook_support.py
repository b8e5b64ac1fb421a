"""Helpers for the webhook and worker tests: sources, signed deliveries and the real samples (tests/fixtures)."""
import hashlib
import hmac
import json
import os

from app.ingest import sources
from tests.conftest import connected
from tests.fixtures import JENKINS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "s3cret-for-webhook-tests"
REGISTRY_TYPE = "application/vnd.docker.distribution.events.v2+json"
MAPPINGS = {
    "jenkins": {"jobs": [{"pattern": "asgard", "type": "deployment"}]},
    "registry": {"repositories": ["library/*", "hello-world"]},
    "generic": {"fields": {"title": "title"}},
}


def fixture_bytes(name):
    return (JENKINS / name).read_bytes()


def tagged_push(tag="1.0", digest=None, repository=None, timestamp=None):
    """The distribution project's push envelope sample as registry 2.x sends it for a push by tag: the manifest
    with its tag (the sample itself shows a push by digest, which moves no tag) and a layer."""
    envelope = json.loads(fixture_bytes("docker-registry-notification-push-envelope.json"))
    target = envelope["events"][0]["target"]
    target["tag"] = tag
    if digest:
        target["digest"] = digest
    if repository:
        target["repository"] = repository
    if timestamp:
        envelope["events"][0]["timestamp"] = timestamp
    return json.dumps(envelope).encode()


def make_source(app, name="ci", kind="jenkins", mapping=None, secret=SECRET, active=True):
    with connected(app):
        return sources.create_source({"name": name, "kind": kind, "secret": secret, "active": active,
                                      "mapping": MAPPINGS[kind] if mapping is None else mapping},
                                     sources.cipher(app.config["SECRET_KEY"]))


def signature(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client, kind, name, body, content_type="application/json", secret=SECRET, how="hmac", headers=None):
    """POST one webhook, authenticated ``how``: hmac, bearer, token or none."""
    headers = dict(headers or {})
    url = "/hooks/%s/%s" % (kind, name)
    if how == "hmac":
        headers["X-Hub-Signature-256"] = signature(body, secret)
    elif how == "bearer":
        headers["Authorization"] = "Bearer " + secret
    elif how == "token":
        url += "?token=" + secret
    return client.post(url, data=body, headers=headers, content_type=content_type)
