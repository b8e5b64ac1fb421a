"""Jenkins controllers through python-jenkins: the agents' configuration, the node list, plugins and core.

Per controller: ``get_whoami()`` (resolves authentication: ``get_version()`` skips it on a first call),
``get_version()`` (the X-Jenkins header), ONE ``?tree=`` query for the whole fleet, then each agent's
config.xml with bounded concurrency, and one ``?tree=`` query of the plugin manager. Every request has
a timeout and retries transient failures (app.polling.collectors.http_session). A broken agent (HTTP error,
timeout, truncated XML) is reported as an error of its own and never hides the others; a controller
that cannot be reached is one error and no observations.

Observations (see app.polling.collectors.observation):
- ``jenkins_agent``, key ``<controller>/<agent>``: the parsed config.xml (app.polling.collectors.agent_config)
  plus ``controller``, ``url``, ``temporarily_offline`` and ``observed`` (runtime state: offline,
  offline_reason, os — kept on the agent's catalogue row, not diffed);
- ``jenkins_nodes``, key ``<controller>``: the names of its agents (agents added or removed);
- ``jenkins_plugins``, key ``<controller>``: ``core`` version and ``plugins`` {shortName: {version,
  enabled, active}}.
"""
import fnmatch
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import jenkins
import requests

from app.polling.collectors import Collected, error, observation
from app.polling.collectors.agent_config import ParseError, parse_agent_config
from app.polling.collectors.http_session import adapter

log = logging.getLogger(__name__)

COMPUTER_TREE = ("?tree=computer[displayName,offline,offlineCauseReason,temporarilyOffline,numExecutors,idle,"
                 "assignedLabels[name],monitorData[*],_class]")
PLUGIN_TREE = "?tree=plugins[shortName,version,active,enabled]"
BUILT_IN_CLASS = "hudson.model.Hudson$MasterComputer"
BUILT_IN_NAMES = {"master", "built-in", "built-in node", "(built-in)", "(master)"}
ARCHITECTURE_MONITOR = "hudson.node_monitors.ArchitectureMonitor"
# What one agent or controller call can raise: python-jenkins wraps 401/403/404/500 and timeouts,
# other statuses and connection errors come through as requests' own exceptions.
FAILURES = (jenkins.JenkinsException, requests.RequestException, ParseError, ValueError, KeyError, TypeError)


def client(controller):
    """A python-jenkins client with an explicit timeout and a connection pool as wide as the concurrency."""
    server = jenkins.Jenkins(controller.url, username=controller.user, password=controller.token,
                             timeout=controller.timeout)
    # python-jenkins mounts its own retry-less adapter; the longer prefix (the controller URL) wins.
    server._session.mount(server.server, adapter(controller.retries, pool_size=controller.concurrency + 2))
    return server


def is_built_in(computer):
    name = (computer.get("displayName") or "").strip().lower()
    return computer.get("_class") == BUILT_IN_CLASS or name in BUILT_IN_NAMES


def collect_controller(controller):
    """Observe one controller: its agents (configs and list), plugins and core version."""
    result = Collected(stats={"controllers": 1, "agents": 0})
    server = client(controller)
    started = time.monotonic()
    try:
        server.get_whoami()
        version = server.get_version()
        computers = server.get_info("computer", COMPUTER_TREE)["computer"]
    except FAILURES as exc:
        log.warning("Jenkins %s (%s) cannot be read: %s", controller.name, controller.url, exc)
        result.errors.append(error(controller.name, exc))
        return result
    base = server.server
    agents = [c for c in computers if not is_built_in(c) and c.get("displayName")
              and not any(fnmatch.fnmatchcase(c["displayName"], p) for p in controller.exclude)]
    result.observations.append(observation("jenkins_nodes", controller.name, {
        "controller": controller.name, "url": base, "agents": sorted(c["displayName"] for c in agents)}))

    with ThreadPoolExecutor(max_workers=controller.concurrency, thread_name_prefix="jenkins-agent") as pool:
        outcomes = list(pool.map(lambda computer: _agent(server, controller, computer), agents))
    for computer, (item, problem) in zip(agents, outcomes):
        if problem is not None:
            result.errors.append(error("%s/%s" % (controller.name, computer["displayName"]), problem))
        else:
            result.observations.append(item)
    result.stats["agents"] = len(agents)

    try:
        plugins = server.get_info("pluginManager", PLUGIN_TREE)["plugins"]
        result.observations.append(observation("jenkins_plugins", controller.name, {
            "controller": controller.name, "url": base, "core": version,
            "plugins": {p["shortName"]: {"version": p.get("version"), "enabled": p.get("enabled", True),
                                         "active": p.get("active", True)} for p in plugins if p.get("shortName")},
        }))
    except FAILURES as exc:
        result.errors.append(error("%s plugins" % controller.name, exc))
    log.info("Jenkins %s: %d agents, %d errors in %.1f s", controller.name, len(agents), len(result.errors),
             time.monotonic() - started)
    return result


def _agent(server, controller, computer):
    """(observation, None) or (None, the exception): an agent's failure stays its own."""
    name = computer["displayName"]
    try:
        config = parse_agent_config(server.get_node_config(name))
    except FAILURES as exc:
        log.warning("Jenkins %s: agent %s skipped: %s", controller.name, name, exc)
        return None, exc
    monitors = computer.get("monitorData") or {}
    architecture = monitors.get(ARCHITECTURE_MONITOR)
    content = dict(config, name=name, controller=controller.name,
                   url="%scomputer/%s/" % (server.server, quote(name)),
                   temporarily_offline=bool(computer.get("temporarilyOffline", False)),
                   observed={"offline": bool(computer.get("offline", False)),
                             "offline_reason": computer.get("offlineCauseReason") or "",
                             "os": architecture if isinstance(architecture, str) else None})
    return observation("jenkins_agent", "%s/%s" % (controller.name, name), content), None


def collect(controllers):
    """Every configured controller, one after the other (each one's agents in parallel)."""
    result = Collected()
    for controller in controllers:
        result.extend(collect_controller(controller))
    return result
