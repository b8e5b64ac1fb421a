"""The real programs the interop tests run (Debian's docker-registry, skopeo, promtool), and what they need.

Missing on a developer's machine, a test is skipped and says which package to install; in CI (CI=true, which
.ci/run has) or with CHANGETRACKER_REQUIRE_INTEROP=1 it fails instead: an interop test that CI skips would prove
nothing.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import time

import pytest

PACKAGES = {"docker-registry": "docker-registry", "skopeo": "skopeo", "promtool": "prometheus"}


def required():
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CHANGETRACKER_REQUIRE_INTEROP") == "1"


def program(name):
    """The path of ``name``; skips (fails where interop tests are required) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        message = "%s is not installed (apt-get install %s)" % (name, PACKAGES.get(name, name))
        if required():
            pytest.fail(message + "; CI and CHANGETRACKER_REQUIRE_INTEROP=1 need every interop program")
        pytest.skip(message)
    return path


def wait_for(predicate, timeout=60, what="the condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(0.2)


# --- OCI image layouts, built without a Docker daemon -------------------------------------------------------

def _blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(root, "blobs", "sha256", digest), "wb") as fh:
        fh.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def oci_layout(root, text, tag="latest"):
    """An OCI image layout at ``root`` of one image with one file holding ``text``; returns its manifest digest
    (what the registry will report for a tag pointing at it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = text.encode()
        info = tarfile.TarInfo("etc/release")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(buffer.getvalue()).hexdigest()
    layer = _blob(root, gzip.compress(buffer.getvalue(), mtime=0))
    config = _blob(root, json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                                     "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode())
    manifest = _blob(root, json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}]}).encode())
    with open(os.path.join(root, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}, fh)
    with open(os.path.join(root, "oci-layout"), "w") as fh:
        json.dump({"imageLayoutVersion": "1.0.0"}, fh)
    return manifest["digest"]
