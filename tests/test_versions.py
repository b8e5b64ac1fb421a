"""One release, said the same everywhere a Jenkins admin or an operator looks for it (CHANGELOG.md)."""
import configparser
import re

import pytest

from app import ROOT, __version__
from app.polling.push import Pusher
from tests.fakes import FakeServer, Reply

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def _read(*parts):
    with open("/".join((ROOT,) + parts), encoding="utf-8") as fh:
        return fh.read()


def test_the_release_is_a_semantic_version_and_the_changelog_starts_with_it():
    assert SEMVER.match(__version__)
    headings = re.findall(r"^## (\S+)", _read("CHANGELOG.md"), re.M)
    assert headings[0] == __version__, "CHANGELOG.md says what this release changed"
    versions = [tuple(int(n) for n in SEMVER.match(h).groups()) for h in headings]
    assert versions == sorted(versions, reverse=True), "newest first, each once"
    assert len(set(versions)) == len(versions)


def test_the_package_takes_its_version_from_the_code():
    setup = configparser.ConfigParser()
    setup.read_string(_read("setup.cfg"))
    assert setup["metadata"]["version"] == "attr: app.__version__"


def test_the_shared_library_is_the_same_release():
    source = _read("jenkins-shared-library", "src", "io", "changetracker", "LibraryVersion.groovy")
    assert re.search(r"static final String VERSION = '([^']+)'", source).group(1) == __version__


def test_healthz_the_api_docs_and_metrics_name_the_release(client, auth):
    assert client.get("/healthz").get_json() == {"status": "ok", "version": __version__}
    reader = auth.headers(role="viewer", scope="read")
    assert client.get("/api/v1/openapi.json", headers=reader).get_json()["info"]["version"] == __version__
    metrics = client.get("/metrics", headers=reader).get_data(as_text=True)
    assert 'changetracker_build_info{version="%s"} 1.0' % __version__ in metrics


class _Tracker(FakeServer):
    def __init__(self, health):
        super().__init__()
        self.health = health

    def handle(self, request):
        return Reply(200, self.health) if request.path == "/healthz" else Reply(404, "{}")


@pytest.mark.parametrize("health, version, note", [
    ('{"status": "ok", "version": "%s"}' % __version__, __version__, None),
    ('{"status": "ok", "version": "0.1.9"}', "0.1.9", "this poller is %s, the tracker at {url} is 0.1.9" % __version__),
    ('{"status": "ok"}', None, "{url}/healthz names no release (older than 0.2.0, or not a tracker)"),
])
def test_a_push_names_the_trackers_release_and_warns_when_it_differs(health, version, note):
    with _Tracker(health) as tracker:
        pusher = Pusher(tracker.url, "ct_token")
        found, problem = pusher.version_note()
        [request] = tracker.requests

    url = tracker.url.rstrip("/")
    assert found == version
    assert (problem or "").startswith(note.format(url=url) if note else "")
    assert (problem is None) == (note is None)
    assert request.headers["User-Agent"] == "changetracker-poller/" + __version__
