"""A Docker registry (HTTP API v2) with the bearer-token dance of Docker Hub and distribution's token auth.

Manifests need ``Authorization: Bearer <token>``; without it the registry answers 401 with
``WWW-Authenticate: Bearer realm="<url>token",service="fake-registry",scope="repository:<repo>:pull"``.
``GET /token`` hands out a token, to anyone or (``user``/``password`` set) only with Basic credentials.
"""
import hashlib
import json

from tests.fakes import FakeServer, Reply

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def manifest(layer_seed):
    """A schema-2 manifest whose bytes (and so its digest) depend on ``layer_seed``."""
    layer = hashlib.sha256(str(layer_seed).encode()).hexdigest()
    return json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                   "digest": "sha256:" + hashlib.sha256(b"config" + layer.encode()).hexdigest()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3370706,
                    "digest": "sha256:" + layer}],
    }, indent=3).encode()


def digest_of(body):
    return "sha256:" + hashlib.sha256(body).hexdigest()


class FakeRegistry(FakeServer):
    def __init__(self, manifests=None, token_auth=True, user=None, password=None, digest_header_on_head=True):
        super().__init__()
        self.manifests = dict(manifests or {})  # "repo:tag" -> manifest bytes
        self.token_auth = token_auth
        self.user, self.password = user, password
        self.digest_header_on_head = digest_header_on_head
        self.issued = set()

    def handle(self, request):
        path = request.path
        if path == "/token":
            if self.user is not None and request.basic_auth() != (self.user, self.password):
                return Reply(401, json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}))
            token = "tok-%d" % (len(self.issued) + 1)
            self.issued.add(token)
            return Reply(200, json.dumps({"token": token, "access_token": token, "expires_in": 300,
                                          "issued_at": "2026-01-01T00:00:00Z"}))
        if path.startswith("/v2/") and "/manifests/" in path:
            repository, _, reference = path[len("/v2/"):].partition("/manifests/")
            if self.token_auth and request.bearer() not in self.issued:
                challenge = 'Bearer realm="%stoken",service="fake-registry",scope="repository:%s:pull"' % (
                    self.url, repository)
                return Reply(401, json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required",
                                                          "detail": [{"Type": "repository", "Name": repository,
                                                                      "Action": "pull"}]}]}),
                             {"WWW-Authenticate": challenge, "Docker-Distribution-API-Version": "registry/2.0"})
            body = self.manifests.get("%s:%s" % (repository, reference))
            if body is None:
                return Reply(404, json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}))
            headers = {"Docker-Distribution-API-Version": "registry/2.0", "Content-Type": MANIFEST_V2}
            if request.method == "GET" or self.digest_header_on_head:
                headers["Docker-Content-Digest"] = digest_of(body)
            return Reply(200, body, headers, content_type=None)
        return Reply(404, json.dumps({"errors": [{"code": "NOT_FOUND"}]}))
