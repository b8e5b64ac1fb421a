"""A Jenkins that answers like the real one, serving the real samples of tests/fixtures/jenkins/.

Endpoints used by python-jenkins and the collector: ``/`` (X-Jenkins header; 403 for anonymous when
credentials are set, as a Jenkins without anonymous read does), ``/me/api/json`` and
``/whoAmI/api/json``, ``/crumbIssuer/api/json``, ``/computer/api/json`` with ``?tree=``,
``/computer/<name>/config.xml`` (400 for the built-in node), ``/pluginManager/api/json``. Every
response carries ``X-Jenkins``.
"""
import copy
import json

# The same agents, computers and ?tree= filter as the demo controller (changetracker demo) renders; imported from
# here by the tests.
from app.ops.demo_jenkins import BUILT_IN, BUILT_IN_URL_NAMES, agent_config, computer, tree_filter  # noqa: F401
from tests.fakes import FakeServer, Reply
from tests.fixtures import JENKINS


def fixture(name, mode="r"):
    with open(JENKINS / name, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
        return fh.read()


class FakeJenkins(FakeServer):
    def __init__(self, computers=None, configs=None, plugins=None, version="2.462.3", user=None, token=None):
        super().__init__()
        self.computers = computers if computers is not None else []
        self.configs = dict(configs or {})
        self.plugins = plugins if plugins is not None else json.loads(fixture("pluginManager-api.json"))["plugins"]
        self.version = version
        self.user, self.token = user, token
        self.faults = {}  # path -> "500" | "truncate" | "html" | "empty"

    @classmethod
    def from_fixtures(cls, **kwargs):
        """The fixture fleet: computer-api.json (an older Jenkins, built-in node "master"), every agent
        configured by agent-config-ssh-envvars.xml, except thomas-armv7 by agent-config-jnlp-tools-envvars.xml."""
        computers = json.loads(fixture("computer-api.json"))["computer"]
        ssh = fixture("agent-config-ssh-envvars.xml", "rb").decode("utf-8")
        jnlp = fixture("agent-config-jnlp-tools-envvars.xml", "rb").decode("utf-8")
        configs = {c["displayName"]: ssh for c in computers if c["displayName"] != "master"}
        configs["thomas-armv7"] = jnlp
        return cls(computers=computers, configs=configs, **kwargs)

    def handle(self, request):
        headers = {"X-Jenkins": self.version, "X-Hudson": "1.395"}
        authorized = self._authorized(request)
        path = request.path
        fault = self.faults.get(path)
        if fault == "500":
            return Reply(500, "<html><body><h2>HTTP ERROR 500 java.lang.NullPointerException</h2></body></html>",
                         headers, "text/html;charset=utf-8")
        if not authorized:
            return Reply(403 if path in ("/", "/api/json") else 401,
                         "<html><body>Authentication required</body></html>",
                         dict(headers, **{"WWW-Authenticate": 'Basic realm="Jenkins"'}), "text/html;charset=utf-8")
        if path in ("/", "/api/json"):
            return Reply(200, json.dumps({"_class": "hudson.model.Hudson", "mode": "NORMAL",
                                          "nodeDescription": "the Jenkins controller's built-in node"}), headers)
        if path in ("/me/api/json", "/whoAmI/api/json"):
            return Reply(200, json.dumps({"_class": "hudson.security.WhoAmI", "anonymous": self.user is None,
                                          "authenticated": True, "authorities": ["authenticated"],
                                          "name": self.user or "anonymous"}), headers)
        if path == "/crumbIssuer/api/json":
            return Reply(200, json.dumps({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": "c0ffee",
                                          "crumbRequestField": "Jenkins-Crumb"}), headers)
        if path == "/computer/api/json":
            body = {"_class": "hudson.model.ComputerSet", "busyExecutors": 0, "computer": copy.deepcopy(self.computers),
                    "displayName": "Nodes", "totalExecutors": sum(c.get("numExecutors", 0) for c in self.computers)}
            return Reply(200, json.dumps(tree_filter(body, request.arg("tree"))), headers)
        if path == "/pluginManager/api/json":
            body = {"_class": "hudson.LocalPluginManager", "plugins": copy.deepcopy(self.plugins)}
            return Reply(200, json.dumps(tree_filter(body, request.arg("tree"))), headers)
        if path.startswith("/computer/") and path.endswith("/config.xml"):
            name = path[len("/computer/"):-len("/config.xml")]
            if name in BUILT_IN_URL_NAMES:
                return Reply(400, "<html><body>Cannot get the built-in node's configuration</body></html>", headers,
                             "text/html;charset=utf-8")
            if name not in self.configs:
                return Reply(404, "<html><body>Not found</body></html>", headers, "text/html;charset=utf-8")
            xml = self.configs[name]
            if fault == "truncate":
                xml = xml[: len(xml) // 2]
            elif fault == "html":
                xml = "<html><head><title>Sign in</title></head><body><p>Sign in</p></body></html>"
            elif fault == "empty":
                xml = ""
            return Reply(200, xml, headers, "application/xml;charset=UTF-8")
        return Reply(404, "<html><body>Not found</body></html>", headers, "text/html;charset=utf-8")

    def _authorized(self, request):
        if self.user is None:
            return True
        return request.basic_auth() == (self.user, self.token)
