"""Demo data for a fresh install, and ``changetracker demo``.

``seed`` fills an empty ledger with what the README's walkthrough uses: the snapshots of a small fleet on the
controller ``demo-jenkins`` (so /fleet has a drift matrix), a fortnight of believable changes, and a story in the
last hours: the poller saw JDK 17.0.13 appear on linux-03, then build #42 of app/main failed there (an event with
its build URL, so the suspects of that build can be asked by URL). ``run_demo`` polls a small fake controller
(app.ops.demo_jenkins) serving the fleet as the ledger last saw it, makes the next change of a JDK roll-out, and
polls again: the change is recorded by the real poller and shows on /fleet.
"""
import random
from datetime import datetime, timedelta, timezone

from app.accounts.audit import Actor
from app.ledger.events import get_event, record_event
from app.models import Event
from app.ops.demo_jenkins import DemoJenkins, agent_config
from app.polling import runner, snapshots
from app.polling.collectors.agent_config import parse_agent_config
from app.polling.collectors.config import JenkinsController, PollerSettings
from app.polling.fleet import version_from_home, version_key

DEMO = Actor("demo")
CONTROLLER = "demo-jenkins"
AGENTS = ["linux-01", "linux-02", "linux-03", "linux-04", "linux-05", "win-01", "win-02", "mac-01"]
TOOL_FOLDERS = {"linux": "/opt/", "win": "C:\\tools\\", "mac": "/Users/jenkins/tools/"}
OS_NAMES = {"linux": "Linux (amd64)", "win": "Windows Server 2022 (amd64)", "mac": "Mac OS X (aarch64)"}
NEWEST_JDK = "17.0.13"
PLUGINS = {"git": "5.2.2", "workflow-aggregator": "596.v8c21c963d92d", "credentials-binding": "657.v2b_19db_7d6e6d",
           "http_request": "1.18", "badge": "1.9.1", "config-file-provider": "968.ve1ca_eb_913f8c"}
# The story the walkthrough follows: JDK 17.0.13 appears on linux-03, then a build fails there.
UPGRADED_AGENT = "linux-03"
FAILED_BUILD_URL = "https://jenkins.example.com/job/app/job/main/42/"
CHANGES = [
    ("tool_update", "low", "JDK 17.0.8 → 17.0.9", ["jdk-17"], [{"path": "tools/jdk-17/home", "before": "/opt/jdk-17.0.8", "after": "/opt/jdk-17.0.9"}]),
    ("tool_update", "info", "Maven 3.9.5 → 3.9.6", ["maven-3"], [{"path": "tools/maven-3/version", "before": "3.9.5", "after": "3.9.6"}]),
    ("agent_config", "medium", "Label docker added", [], [{"path": "labels", "before": "linux", "after": "linux docker"}]),
    ("agent_config", "low", "MAVEN_OPTS changed", [], [{"path": "env/MAVEN_OPTS", "before": "-Xmx1g", "after": "-Xmx2g"}]),
    ("docker_image", "medium", "maven:3.9-eclipse-temurin-17 re-tagged", ["maven:3.9-eclipse-temurin-17"], []),
    ("package_update", "info", "git 2.39.2 → 2.39.5", ["git"], []),
]
FLEET_WIDE = [
    ("plugin_update", "medium", "Plugin git 5.2.1 → 5.2.2", ["git-plugin"]),
    ("jenkins_core", "high", "Jenkins 2.440.3 → 2.452.3 (LTS)", ["jenkins-core"]),
    ("outage", "critical", "Artifact proxy unreachable", []),
    ("maintenance", "info", "Weekly agent reboot", []),
    ("note", "info", "Switched nightly builds to the new cache volume", []),
]


def fleet():
    """The demo fleet as first observed: {agent: {"labels", "executors", "tools", "env", "os"}}; linux-04 was left
    on JDK 17.0.8."""
    agents = {}
    for name in AGENTS:
        family = name.split("-")[0]
        jdk = "17.0.8" if name == "linux-04" else "17.0.9"
        agents[name] = {
            "labels": {"linux": "linux docker", "win": "windows", "mac": "macos"}[family],
            "executors": 4 if family == "linux" else 2,
            "tools": {"jdk-17": TOOL_FOLDERS[family] + "jdk-" + jdk,
                      "maven-3": TOOL_FOLDERS[family] + "apache-maven-3.9.6"},
            "env": {"MAVEN_OPTS": "-Xmx1g", "LANG": "C.UTF-8"},
            "os": OS_NAMES[family],
        }
    return agents


def seed(count=60, now=None, rng=None):
    """Demo data on an empty ledger: the fleet's snapshots, the story and ``count`` events in all (repeats of a
    machine's event fold into one, so a few less are stored); how many are stored, 0 when the ledger had events."""
    if Event.select().exists():
        return 0
    now = now or datetime.now(timezone.utc)
    agents = fleet()
    _observe(agents, now - timedelta(days=3))  # the baseline: no events
    agents[UPGRADED_AGENT]["tools"]["jdk-17"] = "/opt/jdk-%s" % NEWEST_JDK
    _observe({UPGRADED_AGENT: agents[UPGRADED_AGENT]}, now - timedelta(hours=2))  # the poller's event
    record_event({
        "title": "app/main #42 failed", "type": "note", "severity": "high", "source": "pipeline",
        "occurred_at": (now - timedelta(minutes=40)).isoformat(), "agents": [UPGRADED_AGENT],
        "tags": ["build-failure", "demo"], "build_url": FAILED_BUILD_URL,
        "links": [{"url": FAILED_BUILD_URL + "console", "text": "console output"}],
        "description": "Tests failed: javax.net.ssl.SSLHandshakeException in PaymentClientIT",
    }, actor=DEMO)
    seed_events(max(count - 2, 0), now, rng)
    return Event.select().count()


def seed_events(count=60, now=None, rng=None):
    """``count`` random events between 1 and 14 days ago (those naming no agent at least 5), through the one ingest
    function."""
    rng = rng or random.Random(7)
    now = now or datetime.now(timezone.utc)
    for _ in range(count):
        occurred = now - timedelta(minutes=rng.randint(24 * 60, 14 * 24 * 60))
        if rng.random() < 0.75:
            kind, severity, title, tools, changes = rng.choice(CHANGES)
            agents = rng.sample(AGENTS, rng.choice([1, 1, 1, 2, 3]))
        else:
            kind, severity, title, tools = rng.choice(FLEET_WIDE)
            agents, changes = [], []
            if occurred > now - timedelta(days=5):  # the controller's updates and outages were last week: this
                occurred -= timedelta(days=4)       # week's story is linux-03's JDK (its suspects, docs/suspects.md)
        payload = {
            "title": title, "type": kind, "severity": severity, "source": rng.choice(["poller", "pipeline", "manual"]),
            "occurred_at": occurred.isoformat(), "agents": agents, "tools": tools, "changes": changes,
            "tags": ["demo"],
        }
        if kind in ("outage", "maintenance"):
            payload["ended_at"] = (occurred + timedelta(minutes=rng.randint(15, 180))).isoformat()
        record_event(payload, actor=DEMO)


def _observe(agents, at):
    """Submit what the Jenkins poller would observe of ``agents`` (and, with the whole fleet, the node list and the
    plugins) at ``at``: the same contents as a poll of the demo controller."""
    for name, spec in agents.items():
        content = dict(parse_agent_config(agent_config(name, spec["labels"], spec["executors"], spec["tools"],
                                                       spec["env"])),
                       name=name, controller=CONTROLLER, url="", temporarily_offline=False,
                       observed={"offline": False, "offline_reason": "", "os": spec["os"]})
        snapshots.submit("jenkins_agent", "%s/%s" % (CONTROLLER, name), at, content, actor=DEMO)
    if len(agents) == len(AGENTS):
        snapshots.submit("jenkins_nodes", CONTROLLER, at, {"controller": CONTROLLER, "url": "",
                                                           "agents": sorted(agents)}, actor=DEMO)
        snapshots.submit("jenkins_plugins", CONTROLLER, at, {
            "controller": CONTROLLER, "url": "", "core": "2.452.3",
            "plugins": {n: {"version": v, "enabled": True, "active": True} for n, v in PLUGINS.items()}}, actor=DEMO)


def observed_fleet():
    """The demo fleet as the ledger last saw it (its newest snapshots), else as first observed."""
    agents = fleet()
    for key, (_, content) in snapshots.latest("jenkins_agent").items():
        controller, _, name = key.partition("/")
        if controller == CONTROLLER and name in agents:
            agents[name].update(labels=" ".join(content.get("labels") or []), executors=content.get("executors") or 1,
                                tools={tool: where["home"] for tool, where in (content.get("tools") or {}).items()},
                                env=content.get("env") or {})
    return agents


def next_change(agents):
    """Change ``agents`` in place the way a roll-out would, and say how: the agent with the oldest JDK gets
    17.0.13; once every agent has it, linux-02's label gpu comes or goes."""
    behind = sorted((version_key(version_from_home(spec["tools"]["jdk-17"]) or ""), name)
                    for name, spec in agents.items()
                    if version_from_home(spec["tools"].get("jdk-17")) not in (None, NEWEST_JDK))
    if behind:
        name = behind[0][1]
        home = agents[name]["tools"]["jdk-17"]
        agents[name]["tools"]["jdk-17"] = home.replace(version_from_home(home), NEWEST_JDK)
        return "%s: jdk-17 %s → %s" % (name, home, agents[name]["tools"]["jdk-17"])
    labels = agents["linux-02"]["labels"].split()
    agents["linux-02"]["labels"] = " ".join([label for label in labels if label != "gpu"] if "gpu" in labels
                                            else labels + ["gpu"])
    return "linux-02: label gpu %s" % ("removed" if "gpu" in labels else "added")


def run_demo(actor=DEMO):
    """Poll the demo controller, change it, poll again. Returns {"controller": its URL, "first": the first poll's
    report, "change": what the demo changed, "second": the second poll's report, "events": the events it recorded}."""
    agents = observed_fleet()
    with DemoJenkins(agents, dict(PLUGINS)) as jenkins:
        settings = PollerSettings(jenkins=(JenkinsController(name=CONTROLLER, url=jenkins.url, retries=0),))
        [first] = runner.run_pollers(["jenkins"], settings=settings, actor=actor)["pollers"]
        change = next_change(agents)
        [second] = runner.run_pollers(["jenkins"], settings=settings, actor=actor)["pollers"]
    event_ids = sorted({event_id for change_ in second["changes"] for event_id in change_["event_ids"]})
    return {"controller": jenkins.url, "first": first, "change": change, "second": second,
            "events": [get_event(event_id) for event_id in event_ids]}
