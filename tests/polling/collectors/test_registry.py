"""Image tags → digests against a registry that demands a bearer token, like Docker Hub."""
from app.polling.collectors import registry as collector
from app.polling.collectors.config import Registry
from tests.fakes.registry import FakeRegistry, digest_of, manifest


def registry(fake, **extra):
    settings = {"name": "internal", "url": fake.url, "images": ("library/python:3.12",), "timeout": 2.0, "retries": 0}
    settings.update(extra)
    return Registry(**settings)


def test_token_dance_then_digest_from_the_head_response():
    body = manifest(1)
    with FakeRegistry({"library/python:3.12": body}) as fake:
        result = collector.collect_registry(registry(fake))
    assert result.errors == []
    [item] = result.observations
    assert item["collector"] == "docker_image" and item["key"] == "internal/library/python:3.12"
    assert item["content"]["digest"] == digest_of(body)
    assert item["content"]["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    methods = [(r.method, r.path) for r in fake.requests]
    assert methods == [("HEAD", "/v2/library/python/manifests/3.12"), ("GET", "/token"),
                       ("HEAD", "/v2/library/python/manifests/3.12")]
    token_request = fake.requests[1]
    assert token_request.arg("service") == "fake-registry"
    assert token_request.arg("scope") == "repository:library/python:pull"
    assert "application/vnd.docker.distribution.manifest.v2+json" in fake.requests[2].headers["Accept"]
    assert "application/vnd.oci.image.index.v1+json" in fake.requests[2].headers["Accept"]


def test_credentials_go_to_the_token_endpoint_and_tokens_are_reused_per_scope():
    with FakeRegistry({"ci/builder:latest": manifest(2), "ci/builder:1.0": manifest(3)}, user="poller",
                      password="pw") as fake:
        result = collector.collect_registry(registry(fake, images=("ci/builder:latest", "ci/builder:1.0"),
                                                     username="poller", password="pw"))
    assert result.errors == [] and len(result.observations) == 2
    assert [r.path for r in fake.requests].count("/token") == 1
    assert fake.requests[1].basic_auth() == ("poller", "pw")


def test_a_registry_that_demands_a_token_we_cannot_get():
    with FakeRegistry({"ci/builder:latest": manifest(2)}, user="poller", password="pw") as fake:
        result = collector.collect_registry(registry(fake, images=("ci/builder:latest",)))
    assert result.observations == []
    assert result.errors[0]["target"] == "internal/ci/builder:latest"
    assert "token endpoint" in result.errors[0]["message"] and "401" in result.errors[0]["message"]


def test_missing_tag_is_an_error_others_still_collected():
    with FakeRegistry({"library/python:3.12": manifest(1)}) as fake:
        result = collector.collect_registry(registry(fake, images=("library/python:9.9", "library/python:3.12")))
    assert [e["target"] for e in result.errors] == ["internal/library/python:9.9"]
    assert "not found" in result.errors[0]["message"]
    assert [o["key"] for o in result.observations] == ["internal/library/python:3.12"]


def test_without_a_digest_header_the_manifest_is_hashed():
    body = manifest(5)
    with FakeRegistry({"library/python:3.12": body}, token_auth=False, digest_header_on_head=False) as fake:
        fake_get = fake.handle

        def no_digest_on_get(request):  # some registries never send Docker-Content-Digest
            reply = fake_get(request)
            reply.headers.pop("Docker-Content-Digest", None)
            return reply

        fake.handle = no_digest_on_get
        result = collector.collect_registry(registry(fake))
    assert result.observations[0]["content"]["digest"] == digest_of(body)
    assert [r.method for r in fake.requests] == ["HEAD", "GET"]


def test_unreachable_registry():
    result = collector.collect_registry(Registry(name="gone", url="http://127.0.0.1:9", images=("a/b:c",),
                                                 timeout=0.5, retries=0))
    assert result.observations == [] and "ConnectionError" in result.errors[0]["message"]
