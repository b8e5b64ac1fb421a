"""Package indexes: PyPI's JSON API (/pypi/<name>/json), the npm registry (/<name>, scopes encoded), any JSON."""
import json

from tests.fakes import FakeServer, Reply


class FakeIndex(FakeServer):
    def __init__(self, pypi=None, npm=None, documents=None):
        super().__init__()
        self.pypi = dict(pypi or {})  # name -> latest version
        self.npm = dict(npm or {})
        self.documents = dict(documents or {})  # path -> JSON-able

    def handle(self, request):
        path = request.path
        if path.startswith("/pypi/") and path.endswith("/json"):
            name = path[len("/pypi/"):-len("/json")]
            if name not in self.pypi:
                return Reply(404, json.dumps({"message": "Not Found"}))
            version = self.pypi[name]
            return Reply(200, json.dumps({
                "info": {"name": name, "version": version, "summary": "a package", "requires_python": ">=3.8",
                         "yanked": False},
                "last_serial": 12345, "releases": {version: [{"filename": "%s-%s.tar.gz" % (name, version)}]},
                "urls": [], "vulnerabilities": []}))
        if path in self.documents:
            return Reply(200, json.dumps(self.documents[path]))
        name = path.lstrip("/")
        if name in self.npm:
            latest = self.npm[name]
            return Reply(200, json.dumps({"name": name, "modified": "2026-01-01T00:00:00.000Z",
                                          "dist-tags": {"latest": latest, "next": latest + "-rc.1"},
                                          "versions": {latest: {"name": name, "version": latest}}}),
                         content_type="application/vnd.npm.install-v1+json")
        return Reply(404, json.dumps({"error": "Not found"}))
