"""A small Jenkins controller on loopback, for trying the pollers without a Jenkins (``changetracker demo``).

It answers what python-jenkins and the Jenkins poller ask (app.polling.collectors.jenkins): ``/`` and
``/api/json`` (the X-Jenkins header), ``/me/api/json``, ``/crumbIssuer/api/json``, ``/computer/api/json`` with
Jenkins' ``?tree=`` filter, each agent's ``/computer/<name>/config.xml`` and ``/pluginManager/api/json``, for a
fleet held in memory: agents described by their labels, executors, tool homes and environment, rendered as the
config.xml a modern Jenkins writes. The tests' fake Jenkins (tests/fakes/jenkins.py) renders its agents with the
same functions.
"""
import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CORE_VERSION = "2.452.3"
DESCRIPTORS = {"jdk": "hudson.model.JDK$DescriptorImpl",
               "maven": "hudson.tasks.Maven$MavenInstallation$DescriptorImpl",
               "git": "hudson.plugins.git.GitTool$DescriptorImpl"}
BUILT_IN_URL_NAMES = {"(built-in)", "(master)", "master", "Built-In Node"}
BUILT_IN = {"_class": "hudson.model.Hudson$MasterComputer", "displayName": "Built-In Node", "numExecutors": 2,
            "offline": False, "offlineCauseReason": "", "temporarilyOffline": False, "idle": True,
            "assignedLabels": [{"name": "built-in"}], "monitorData": {}}
JNLP_LAUNCHER = ('<launcher class="hudson.slaves.JNLPLauncher"><workDirSettings><disabled>false</disabled>'
                 '</workDirSettings><webSocket>true</webSocket></launcher>')


def tool_kind(name):
    """The kind of tool installation a name stands for: jdk-17 and JDK are JDKs, maven-3 a Maven, git a Git."""
    lowered = name.lower()
    return next((kind for kind in ("maven", "git") if lowered.startswith(kind)), "jdk")


def agent_config(name, labels="linux docker", executors=2, tools=None, env=None, declaration="1.1",
                 launcher=JNLP_LAUNCHER):
    """A modern config.xml of an agent; ``tools`` maps a tool installation's name to its home on the agent."""
    tools = {"JDK": "/opt/jdk-17.0.8", "Maven": "/opt/apache-maven-3.9.6"} if tools is None else tools
    env = {"MAVEN_OPTS": "-Xmx1g", "LANG": "C.UTF-8"} if env is None else env
    locations = "".join(
        "<hudson.tools.ToolLocationNodeProperty_-ToolLocation><type>%s</type><name>%s</name><home>%s</home>"
        "</hudson.tools.ToolLocationNodeProperty_-ToolLocation>" % (DESCRIPTORS[tool_kind(tool)], tool, home)
        for tool, home in tools.items())
    pairs = "".join("<string>%s</string><string>%s</string>" % (k, v) for k, v in env.items())
    return ('<?xml version="%s" encoding="UTF-8"?>\n<slave>\n  <name>%s</name>\n  <description/>\n'
            '  <remoteFS>/home/jenkins</remoteFS>\n  <numExecutors>%d</numExecutors>\n  <mode>NORMAL</mode>\n'
            '  <retentionStrategy class="hudson.slaves.RetentionStrategy$Always"/>\n  %s\n  <label>%s</label>\n'
            '  <nodeProperties>\n    <hudson.tools.ToolLocationNodeProperty><locations>%s</locations>'
            '</hudson.tools.ToolLocationNodeProperty>\n    <hudson.slaves.EnvironmentVariablesNodeProperty>'
            '<envVars serialization="custom"><unserializable-parents/><tree-map><default><comparator '
            'class="java.lang.String$CaseInsensitiveComparator"/></default><int>%d</int>%s</tree-map></envVars>'
            '</hudson.slaves.EnvironmentVariablesNodeProperty>\n  </nodeProperties>\n</slave>\n') % (
        declaration, name, executors, launcher, labels, locations, len(env), pairs)


def computer(name, executors=2, offline=False, labels=(), os_name="Linux (amd64)"):
    """One entry of /computer/api/json on a modern Jenkins (with _class)."""
    return {"_class": "hudson.slaves.SlaveComputer", "displayName": name, "numExecutors": executors,
            "offline": offline, "offlineCauseReason": "", "temporarilyOffline": False, "idle": True,
            "assignedLabels": [{"name": label} for label in (name,) + tuple(labels)],
            "monitorData": {"hudson.node_monitors.ArchitectureMonitor": os_name}}


def tree_filter(body, tree):
    """Jenkins' ``?tree=a,b[c,d[*]]``: only the named properties, at any depth; ``*`` keeps everything."""
    if not tree:
        return body
    return _apply(body, _parse(tree)[0])


def _parse(text, pos=0):
    spec, name = {}, ""
    while pos < len(text):
        char = text[pos]
        if char == "[":
            inner, pos = _parse(text, pos + 1)
            spec[name.strip()] = inner
            name = ""
        elif char == "]":
            if name.strip():
                spec[name.strip()] = None
            return spec, pos + 1
        elif char == ",":
            if name.strip():
                spec[name.strip()] = None
            name = ""
            pos += 1
            continue
        else:
            name += char
            pos += 1
            continue
        if pos < len(text) and text[pos] == ",":
            pos += 1
    if name.strip():
        spec[name.strip()] = None
    return spec, pos


def _apply(value, spec):
    if spec is None or "*" in spec:
        return value
    if isinstance(value, list):
        return [_apply(item, spec) for item in value]
    if isinstance(value, dict):
        kept = {key: _apply(value[key], sub) for key, sub in spec.items() if key in value}
        if "_class" in value:
            kept.setdefault("_class", value["_class"])  # Jenkins adds _class to every object it serialises
        return kept
    return value


class LoopbackServer:
    """An HTTP server on a free loopback port, serving in a thread of its own: ``start()``/``stop()`` or ``with``.
    Subclasses say how to answer with ``handler()``, a BaseHTTPRequestHandler class."""

    def __init__(self):
        self._server = None
        self.url = None

    def handler(self):  # pragma: no cover - subclasses answer
        raise NotImplementedError

    def start(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.url = "http://127.0.0.1:%d/" % self._server.server_port
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class DemoJenkins(LoopbackServer):
    """A controller on a free loopback port answering for ``agents`` ({name: {"labels", "executors", "tools", "env",
    "os"}}, changed in place between polls) and ``plugins`` ({short name: version}). Anonymous read, as a Jenkins
    that grants it."""

    def __init__(self, agents, plugins, version=CORE_VERSION):
        super().__init__()
        self.agents, self.plugins, self.version = agents, plugins, version

    def handler(self):
        demo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                parts = urlsplit(self.path)
                status, body, content_type = demo.answer(unquote(parts.path), parse_qs(parts.query))
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("X-Jenkins", demo.version)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    def answer(self, path, query):
        """(status, body, content type) for a GET of ``path``."""
        tree = (query.get("tree") or [None])[0]
        if path in ("/", "/api/json"):
            return 200, json.dumps({"_class": "hudson.model.Hudson", "mode": "NORMAL"}), "application/json"
        if path in ("/me/api/json", "/whoAmI/api/json"):
            return 200, json.dumps({"_class": "hudson.security.WhoAmI", "anonymous": True, "authenticated": True,
                                    "name": "anonymous"}), "application/json"
        if path == "/crumbIssuer/api/json":
            return 200, json.dumps({"crumb": "demo", "crumbRequestField": "Jenkins-Crumb"}), "application/json"
        if path == "/computer/api/json":
            computers = [copy.deepcopy(BUILT_IN)] + [
                computer(name, spec["executors"], labels=tuple(spec["labels"].split()), os_name=spec["os"])
                for name, spec in sorted(self.agents.items())]
            return 200, json.dumps(tree_filter({"_class": "hudson.model.ComputerSet", "computer": computers}, tree)), \
                "application/json"
        if path == "/pluginManager/api/json":
            plugins = [{"shortName": name, "version": version, "active": True, "enabled": True}
                       for name, version in sorted(self.plugins.items())]
            return 200, json.dumps(tree_filter({"plugins": plugins}, tree)), "application/json"
        if path.startswith("/computer/") and path.endswith("/config.xml"):
            name = path[len("/computer/"):-len("/config.xml")]
            spec = self.agents.get(name)
            if spec is not None:
                return 200, agent_config(name, spec["labels"], spec["executors"], spec["tools"], spec["env"]), \
                    "application/xml;charset=UTF-8"
        return 404, "<html><body>Not found</body></html>", "text/html;charset=utf-8"
