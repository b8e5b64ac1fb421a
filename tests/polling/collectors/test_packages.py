"""Package versions from PyPI's and npm's metadata shapes, and from any JSON document by field path."""
import pytest

from app.polling.collectors import packages as collector
from app.polling.collectors.config import PackageSource
from tests.fakes.packages import FakeIndex


@pytest.fixture
def index():
    with FakeIndex(pypi={"requests": "2.32.3"}, npm={"express": "4.21.1", "@angular/core": "18.2.8"},
                   documents={"/api/version.json": {"release": {"version": "7.77.3", "date": "2026-01-01"}},
                              "/api/list.json": {"items": [{"v": "1.2"}, {"v": "1.1"}]}}) as fake:
        yield fake


def source(index, kind, name, **extra):
    return PackageSource(index=kind, name=name, url=extra.pop("url", index.url), timeout=2.0, retries=0, **extra)


def test_pypi_npm_and_json_sources(index):
    result = collector.collect([
        source(index, "pypi", "requests"),
        source(index, "npm", "express"),
        source(index, "npm", "@angular/core"),
        source(index, "json", "artifactory", url=index.url + "api/version.json", field="release.version"),
        source(index, "json", "listed", url=index.url + "api/list.json", field="items.0.v"),
    ])
    assert result.errors == []
    assert {o["key"]: o["content"]["version"] for o in result.observations} == {
        "pypi/requests": "2.32.3", "npm/express": "4.21.1", "npm/@angular/core": "18.2.8",
        "json/artifactory": "7.77.3", "json/listed": "1.2"}
    assert all(o["collector"] == "package" for o in result.observations)
    paths = index.paths()
    assert "/pypi/requests/json" in paths and "/@angular/core" in paths
    npm_request = [r for r in index.requests if r.path == "/express"][0]
    assert "application/vnd.npm.install-v1+json" in npm_request.headers["Accept"]


def test_errors_are_per_package(index):
    result = collector.collect([
        source(index, "pypi", "no-such-package"),
        source(index, "json", "wrong-field", url=index.url + "api/version.json", field="release.tag"),
        source(index, "json", "object", url=index.url + "api/version.json", field="release"),
        source(index, "pypi", "requests"),
    ])
    assert [o["key"] for o in result.observations] == ["pypi/requests"]
    messages = {e["target"]: e["message"] for e in result.errors}
    assert "404" in messages["pypi/no-such-package"]
    assert "release.tag" in messages["json/wrong-field"]
    assert "not a version" in messages["json/object"]
