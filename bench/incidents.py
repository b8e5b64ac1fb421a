"""The labelled incidents `make bench` ranks suspects on: each a failed build, the ledger around it, and the real cause.

Each is modelled on a kind of public postmortem (cited above it) and written as a platform team's ledger would hold
it: the cause recorded the way such a change is recorded (by a pipeline, a person, a poller or a webhook, with the
severity that way of recording gives it), then what else happened around it: planned changes on the same agent,
notes written while investigating, routine machine-detected chatter, controller updates. As in this product,
pollers watch agents' configurations, the controller's plugins and core, images and package indexes; packages on
an agent are recorded by the job that patches it (a pipeline). Times are hours before the
failure (`ago`); an interval's `ended` is hours before the failure too, negative when it ended after it. The build
states its agent, the tools it declares (`suspectChanges(tools: ...)`, often none) and when the job last succeeded.

The weights in app/correlation/evidence.py were never fitted to these: a miss is reported, not tuned away.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Incident:
    name: str
    agent: str
    last_success: float  # hours before the failure
    events: tuple
    cause: tuple  # keys of the events that are the real cause (one change may be recorded twice: intent, detection)
    tools: tuple = ()
    toolchains: dict = field(default_factory=dict)  # the catalogue: toolchain -> its tools


def ev(key, ago, title, kind, severity="info", source="pipeline", agents=(), tools=(), toolchains=(), ended=None,
       reverts=None):
    return {"key": key, "ago": ago, "title": title, "type": kind, "severity": severity, "source": source,
            "agents": list(agents), "tools": list(tools), "toolchains": list(toolchains), "ended": ended,
            "reverts": reverts}


def controller_chatter(ago):
    """What a controller's plugin poller records on an ordinary day: announced, routine plugin updates."""
    return (ev("chatter-intent", ago + 0.2, "Weekly plugin updates", "plugin_update", tools=["timestamper", "junit"]),
            ev("chatter-1", ago, "Plugin timestamper 1.26 → 1.27 on ci-main", "plugin_update", source="poller",
               tools=["timestamper"]),
            ev("chatter-2", ago, "Plugin junit 1256 → 1259 on ci-main", "plugin_update", source="poller",
               tools=["junit"]))


INCIDENTS = (
    # A JDK upgrade on an agent: Gradle older than 8.5 cannot run on Java 21 ("Unsupported class file major version
    # 65"). https://docs.gradle.org/current/userguide/compatibility.html
    Incident("jdk-21-on-the-agent", "linux-build-007", last_success=20, events=(
        ev("cause", 6, "Temurin 21 as the default JDK on linux-build-007", "tool_update", "medium",
           agents=["linux-build-007"], tools=["jdk-21"]),
        ev("cause-seen", 5.8, "linux-build-007: JDK tool home /opt/jdk-17 → /opt/jdk-21", "agent_config",
           source="poller", agents=["linux-build-007"]),
        ev("reboot", 2, "linux-build-007 rebooted after the kernel patch", "note", source="manual",
           agents=["linux-build-007"]),
        ev("tzdata", 1, "linux-build-007: package tzdata 2024a → 2024b", "package_update", agents=["linux-build-007"], tools=["pkg:tzdata"]),
    ) + controller_chatter(3), cause=("cause", "cause-seen")),

    # A Docker Engine upgrade on an agent, by hand: Docker 23 makes BuildKit the default builder, and builds relying
    # on the legacy builder's behaviour break. https://docs.docker.com/engine/release-notes/23.0/
    Incident("docker-23-by-hand", "linux-docker-012", last_success=26, tools=("docker",), events=(
        ev("cause", 10, "linux-docker-012: docker 20.10.24 → 23.0.1", "tool_update", source="poller",
           agents=["linux-docker-012"], tools=["docker"]),
        ev("relabel-intent", 3.1, "Add linux-docker-012 to the arm64-cross pool", "agent_config", "low",
           agents=["linux-docker-012"]),
        ev("relabel", 3, "linux-docker-012: label arm64-cross added", "agent_config", source="poller",
           agents=["linux-docker-012"]),
        ev("cleanup", 1, "Cleaned /var/lib/docker on linux-docker-012 (disk at 91%)", "note", source="manual",
           agents=["linux-docker-012"]),
        ev("sonar", 2, "Image ci/sonar-scanner:5 now sha256:9f2e (was sha256:71aa)", "docker_image", source="webhook",
           tools=["ci/sonar-scanner:5"]),
    ), cause=("cause",)),

    # A plugin that came with a controller image upgrade: durable-task 1.31 broke docker.inside (JENKINS-59903); the
    # fix was going back to 1.30. https://github.com/odavid/my-bloody-jenkins/issues/147
    Incident("durable-task-with-the-lts", "linux-docker-003", last_success=30, tools=("docker",), events=(
        ev("core", 14.2, "Controller image jenkins/jenkins:2.190.1-lts", "jenkins_core", "medium",
           tools=["jenkins-core"]),
        ev("core-seen", 14, "Jenkins core 2.176.3 → 2.190.1 on ci-main", "jenkins_core", "medium", source="poller",
           tools=["jenkins-core"]),
        ev("cause", 14, "Plugin durable-task 1.30 → 1.31 on ci-main", "plugin_update", source="poller",
           tools=["durable-task"]),
        ev("workspace", 1, "Wiped the workspaces of linux-docker-003", "note", source="manual",
           agents=["linux-docker-003"]),
    ), cause=("cause",)),

    # A plugin updated in the plugin manager that needs a newer core than the LTS the controller runs: every
    # Pipeline job broke until it was downgraded by hand. https://github.com/nodejs/build/issues/2413
    Incident("plugin-needs-newer-core", "test-osuosl-ubuntu-04", last_success=8, events=(
        ev("cause", 5, "Plugin workflow-durable-task-step 2.35 → 2.36 on ci-nodejs", "plugin_update",
           source="poller", tools=["workflow-durable-task-step"]),
        ev("github-auth", 5, "Plugin github-oauth 0.33 → 0.34 on ci-nodejs", "plugin_update", source="poller",
           tools=["github-oauth"]),
        ev("openssl", 3, "test-osuosl-ubuntu-04: package openssl 1.1.1f-1ubuntu2.4 → 2.5", "package_update",
           agents=["test-osuosl-ubuntu-04"], tools=["pkg:openssl"]),
        ev("note", 0.5, "Builds on test-osuosl-ubuntu-04 slow today", "note", source="manual",
           agents=["test-osuosl-ubuntu-04"]),
    ), cause=("cause",)),

    # A Script Security update broke a Groovy job; the Groovy plugin was updated in the hope it would help (it did
    # not), then Script Security was rolled back. This is a failure between the two.
    # https://github.com/nodejs/build/issues/3159
    Incident("script-security-then-groovy", "infra-digitalocean-ubuntu2204-x64-1", last_success=20, events=(
        ev("cause", 18, "Plugin script-security 1172 → 1175 on ci-nodejs", "plugin_update", source="poller",
           tools=["script-security"]),
        ev("groovy", 1, "Update the Groovy plugin to 453 to fix post-build-status-update", "plugin_update",
           "low", source="manual", tools=["groovy"]),
        ev("groovy-seen", 0.9, "Plugin groovy 442 → 453 on ci-nodejs", "plugin_update", source="poller",
           tools=["groovy"]),
        ev("investigating", 0.5, "post-build-status-update failing since this morning", "note", "medium",
           source="manual"),
    ), cause=("cause",)),

    # A core upgrade that drops the agents' Java: Jenkins 2.357 needs Java 11 on every agent, and an agent still on
    # Java 8 fails its builds. The agent had been relabelled for the JDK pools that morning.
    # https://www.jenkins.io/blog/2022/06/28/require-java-11/
    Incident("core-needs-java-11", "linux-build-040", last_success=9, events=(
        ev("cause", 5, "Jenkins 2.346.3 → 2.361.1 LTS on ci-main", "jenkins_core", "medium", tools=["jenkins-core"]),
        ev("cause-seen", 4.9, "Jenkins core 2.346.3 → 2.361.1 on ci-main", "jenkins_core", "medium",
           source="poller", tools=["jenkins-core"]),
        ev("relabel-intent", 2.1, "Label the Java 8 agents jdk8 for the pool split", "agent_config", "low",
           agents=["linux-build-040", "linux-build-041"]),
        ev("relabel", 2, "linux-build-040: label jdk8 added", "agent_config", source="poller",
           agents=["linux-build-040"]),
    ) + controller_chatter(4.8), cause=("cause", "cause-seen")),

    # JEP-200: a core upgrade that refuses to serialise classes not on its allow-list, so Pipelines using older
    # plugins fail at their first checkpoint. https://www.jenkins.io/blog/2018/01/13/jep-200/
    Incident("jep-200-core-upgrade", "linux-build-015", last_success=40, events=(
        ev("cause", 30, "Jenkins 2.89.3 → 2.102 on ci-main", "jenkins_core", "high", tools=["jenkins-core"]),
        ev("apt-1", 12, "linux-build-015: package libc6 2.27-3ubuntu1.5 → 1.6", "package_update", agents=["linux-build-015"], tools=["pkg:libc6"]),
        ev("apt-2", 12, "linux-build-015: package curl 7.58.0-2ubuntu3.20 → 3.21", "package_update",
           agents=["linux-build-015"], tools=["pkg:curl"]),
        ev("apt-3", 12, "linux-build-015: package ca-certificates 20210119 → 20211016", "package_update",
           agents=["linux-build-015"], tools=["pkg:ca-certificates"]),
        ev("note", 6, "linux-build-015 back from maintenance", "note", source="manual", agents=["linux-build-015"]),
    ), cause=("cause",)),

    # Jenkins 2.463 requires Java 17 on the controller and the agents. https://www.jenkins.io/blog/2024/06/11/require-java-17/
    Incident("core-needs-java-17", "windows-build-021", last_success=26, events=(
        ev("cause", 3, "Jenkins 2.462.3 → 2.479.1 LTS on ci-main", "jenkins_core", "medium", tools=["jenkins-core"]),
        ev("todo", 20, "windows-build-021 still on Java 11, move to 17 next sprint", "note", "high", source="manual",
           agents=["windows-build-021"]),
        ev("av", 6, "windows-build-021: Defender definitions 1.419.12 → 1.419.40", "package_update",
           agents=["windows-build-021"], tools=["pkg:defender-definitions"]),
    ) + controller_chatter(3), cause=("cause",)),

    # Docker Hub's pull rate limit: anonymous pulls beyond 100 per 6 hours answer 429, and builds pulling their
    # base images fail while it lasts.
    # https://www.docker.com/blog/what-you-need-to-know-about-upcoming-docker-hub-rate-limiting/
    Incident("docker-hub-rate-limit", "linux-docker-020", last_success=4, tools=("docker",), events=(
        ev("cause", 1, "Docker Hub answers 429 to our NAT address (pull rate limit)", "outage", "high",
           source="manual"),
        ev("chatter-1", 0.8, "linux-docker-020: package containerd.io 1.6.20 → 1.6.21", "package_update",
           agents=["linux-docker-020"], tools=["pkg:containerd.io"]),
        ev("chatter-2", 0.6, "linux-docker-020: executors 4 → 6", "agent_config", "low",
           agents=["linux-docker-020"]),
        ev("chatter-3", 0.4, "linux-docker-020: executors 4 → 6", "agent_config", source="poller",
           agents=["linux-docker-020"]),
        ev("chatter-4", 0.2, "Pruned dangling images on linux-docker-020", "note", source="manual",
           agents=["linux-docker-020"]),
    ) + controller_chatter(0.5), cause=("cause",)),

    # The Fastly outage of 8 June 2021: PyPI and npm (among many) unreachable for about an hour.
    # https://www.fastly.com/blog/summary-of-june-8-outage
    Incident("cdn-outage-pypi-npm", "linux-build-031", last_success=3, events=(
        ev("cause", 0.4, "Fastly outage: pypi.org and registry.npmjs.org unreachable", "outage", "critical",
           source="webhook", ended=-0.5),
        ev("pip", 2, "linux-build-031: package python3-pip 20.0.2 → 22.0.2", "package_update", "low",
           agents=["linux-build-031"], tools=["pkg:python3-pip"]),
        ev("pip-seen", 1.9, "linux-build-031: package python3-pip 20.0.2 → 22.0.2", "package_update",
           agents=["linux-build-031"], tools=["pkg:python3-pip"]),
        ev("note", 0.2, "pip install timing out on linux-build-031", "note", "high", source="manual",
           agents=["linux-build-031"]),
    ), cause=("cause",)),

    # Quay.io's outage of May 2020: the registry was down for hours; builds pulling from it failed, while the
    # agents' routine chatter went on. https://www.redhat.com/en/blog/quayio-outage-post-mortem
    Incident("registry-outage-amid-chatter", "linux-docker-007", last_success=5, tools=("quay.io/ci/builder",),
             events=(
        ev("cause", 3, "quay.io degraded: pulls fail with 502", "outage", "high", source="webhook", ended=-2),
        ev("image", 28, "Image quay.io/ci/builder:latest now sha256:51c0 (was sha256:e2d9)", "docker_image",
           source="webhook", tools=["quay.io/ci/builder"]),
    ) + tuple(ev("chatter-%d" % i, 2.5 - i * 0.4, "linux-docker-007: package %s updated" % package, "package_update",
                 agents=["linux-docker-007"], tools=["pkg:" + package])
              for i, package in enumerate(("libssl3", "openssl", "curl", "libcurl4", "git"))) + (
        ev("note-1", 1.5, "linux-docker-007 load high", "note", source="manual", agents=["linux-docker-007"]),
        ev("note-2", 0.5, "restarted the agent service on linux-docker-007", "note", source="manual",
           agents=["linux-docker-007"]),
    ), cause=("cause",)),

    # Cloudflare's outage of 21 June 2022, here in front of the artifact proxy: open, nobody has closed it yet.
    # https://blog.cloudflare.com/cloudflare-outage-on-june-21-2022/
    Incident("proxy-outage-ongoing", "linux-build-002", last_success=2, events=(
        ev("cause", 0.7, "artifacts.example.com answers 500 (Cloudflare)", "outage", "high", source="manual"),
        ev("relabel", 1.5, "linux-build-002: label gradle-cache added", "agent_config", "low",
           agents=["linux-build-002"]),
        ev("relabel-seen", 1.4, "linux-build-002: label gradle-cache added", "agent_config", source="poller",
           agents=["linux-build-002"]),
        ev("note-1", 0.5, "Gradle builds slow on linux-build-002", "note", source="manual",
           agents=["linux-build-002"]),
        ev("note-2", 0.3, "Dependency downloads failing on linux-build-002?", "note", "high", source="manual",
           agents=["linux-build-002"]),
    ) + controller_chatter(1), cause=("cause",)),

    # Maven Central stopped serving plain http on 15 January 2020: builds with an http:// mirror get 501.
    # https://central.sonatype.org/news/20200115_https_required
    Incident("maven-central-https-only", "linux-build-019", last_success=22, tools=("maven",), events=(
        ev("cause", 9, "Maven Central: plain-http access switched off", "maintenance", "high", source="manual"),
        ev("maven", 30, "Maven 3.6.3 on linux-build-019", "tool_update", agents=["linux-build-019"],
           tools=["maven"]),
        ev("note", 2, "linux-build-019 disk cleanup", "note", source="manual", agents=["linux-build-019"]),
        ev("env", 4, "linux-build-019: env MAVEN_OPTS changed", "agent_config", "low",
           agents=["linux-build-019"]),
        ev("env-seen", 3.9, "linux-build-019: env MAVEN_OPTS changed", "agent_config", source="poller",
           agents=["linux-build-019"]),
    ), cause=("cause",)),

    # The JCenter sunset: the repository went read-only and then away, and Android builds resolving from it broke.
    # https://jfrog.com/blog/into-the-sunset-bintray-jcenter-gocenter-and-chartcenter/
    Incident("jcenter-gone", "linux-android-004", last_success=27, tools=("android-sdk", "gradle"), events=(
        ev("cause", 3, "JCenter returns 403 for new resolutions", "outage", "high", source="manual"),
        ev("sdk", 5, "Android SDK platform-tools 34.0.4 on linux-android-004", "tool_update", "low",
           agents=["linux-android-004"], tools=["android-sdk"]),
        ev("emulator", 8, "Image ci/android-emulator:34 now sha256:0b1c (was sha256:88de)", "docker_image",
           source="webhook", tools=["ci/android-emulator:34"]),
    ), cause=("cause",)),

    # left-pad: an npm package unpublished and republished after about two and a half hours; installs failed in
    # between. https://blog.npmjs.org/post/141577284765/kik-left-pad-and-npm
    Incident("npm-package-unpublished", "linux-node-002", last_success=6, tools=("node-20",), events=(
        ev("cause", 1, "npm: left-pad unpublished, installs of dependents fail", "outage", "high", source="manual",
           ended=-1.5),
        ev("cache", 0.5, "Cleared the npm cache on linux-node-002", "note", source="manual",
           agents=["linux-node-002"]),
        ev("node", 50, "Node 20.11 in node-web", "toolchain_change", "medium", toolchains=["node-web"]),
    ), cause=("cause",), toolchains={"node-web": ["node-20", "yarn"]}),

    # debian:latest moved to bookworm on 10 June 2023; pip then refuses to install into the system Python
    # (PEP 668, externally managed). The registry poller saw the digest change; nobody had announced it.
    # https://www.debian.org/News/2023/20230610
    Incident("base-image-retag", "linux-docker-015", last_success=30, tools=("library/debian:latest",), events=(
        ev("cause", 20, "Image library/debian:latest now sha256:432f (was sha256:a5a0)", "docker_image",
           source="poller", tools=["library/debian:latest"]),
        ev("executors", 4, "More executors on linux-docker-015", "agent_config", "low",
           agents=["linux-docker-015"]),
        ev("executors-seen", 3.9, "linux-docker-015: executors 2 → 4", "agent_config", source="poller",
           agents=["linux-docker-015"]),
        ev("note", 1, "linux-docker-015 patched and rebooted", "note", source="manual",
           agents=["linux-docker-015"]),
    ) + controller_chatter(10), cause=("cause",)),

    # glibc 2.34 calls clone3, which the seccomp profile of Docker before 20.10.10 refuses with EPERM: a base image
    # moved to a newer distribution breaks on agents with an older Docker.
    # https://github.com/moby/moby/issues/42680
    Incident("new-base-image-old-docker", "linux-docker-031", last_success=12, tools=("ci/builder:fedora",), events=(
        ev("cause", 7, "Build and push ci/builder:fedora on Fedora 35", "docker_image", "medium",
           tools=["ci/builder:fedora"]),
        ev("cause-seen", 6.9, "ci/builder:fedora pushed (sha256:4e1a)", "docker_image", source="webhook",
           tools=["ci/builder:fedora"]),
        ev("docker-elsewhere", 5, "linux-docker-030: docker 20.10.9 → 20.10.12", "tool_update", source="poller",
           agents=["linux-docker-030"], tools=["docker"]),
        ev("note", 2, "linux-docker-031 kernel 5.4.0-121", "note", source="manual", agents=["linux-docker-031"]),
    ), cause=("cause", "cause-seen")),

    # Node 17 moved to OpenSSL 3: webpack 4 builds fail with ERR_OSSL_EVP_UNSUPPORTED. Here a node image tag moved
    # to 17 and a webhook from the registry recorded it. https://nodejs.org/en/blog/release/v17.0.0
    Incident("node-image-to-openssl-3", "linux-docker-022", last_success=18, tools=("library/node:current",),
             events=(
        ev("cause", 11, "library/node:current pushed (sha256:c7f0)", "docker_image", source="webhook",
           tools=["library/node:current"]),
        ev("yarn", 4, "linux-docker-022: package yarn 1.22.15 → 1.22.17", "package_update", agents=["linux-docker-022"], tools=["pkg:yarn"]),
        ev("note", 3, "linux-docker-022 moved to rack B", "note", "medium", source="manual",
           agents=["linux-docker-022"]),
    ) + controller_chatter(6), cause=("cause",)),

    # A hand edit on a host, found afterwards: GitLab's 2017 database outage began with a command run by hand on
    # the wrong host. Here someone changed an agent's environment by hand; the poller found it, nobody had said.
    # https://about.gitlab.com/blog/2017/02/10/postmortem-of-database-outage-of-january-31/
    Incident("hand-edited-agent-env", "linux-build-011", last_success=16, events=(
        ev("cause", 9, "linux-build-011: env JAVA_HOME /opt/jdk-17 → /usr/lib/jvm/default", "agent_config",
           source="poller", agents=["linux-build-011"]),
        ev("planned", 5, "Bump executors on the linux-build pool", "agent_config", "low",
           agents=["linux-build-011", "linux-build-012"]),
        ev("planned-seen", 4.9, "linux-build-011: executors 4 → 6", "agent_config", source="poller",
           agents=["linux-build-011"]),
        ev("note", 2, "linux-build-011 checked, looks fine", "note", source="manual", agents=["linux-build-011"]),
    ) + controller_chatter(7), cause=("cause",)),

    # A command run by hand that did more than meant: the S3 outage of 2017. Here a by-hand cleanup removed the
    # docker label from agents, and the docker builds that still ran there failed.
    # https://aws.amazon.com/message/41926/
    Incident("hand-run-relabel", "linux-docker-009", last_success=7, tools=("docker",), events=(
        ev("cause", 3, "linux-docker-009: label docker removed", "agent_config", source="poller",
           agents=["linux-docker-009"]),
        ev("docker-planned", 26, "Docker 24.0.7 on the docker pool", "tool_update", "medium",
           agents=["linux-docker-009"], tools=["docker"]),
        ev("ws", 1, "linux-docker-009 workspace cleanup", "note", source="manual", agents=["linux-docker-009"]),
    ) + controller_chatter(2), cause=("cause",)),

    # Git 2.35.2 (CVE-2022-24765) refuses repositories owned by another user ("detected dubious ownership"); an
    # unattended upgrade brought it to the agent. https://github.blog/2022-04-12-git-security-vulnerability-announced/
    # and https://github.com/actions/runner-images/issues/6775
    Incident("git-safe-directory", "linux-build-027", last_success=14, events=(
        ev("cause", 8, "linux-build-027 unattended upgrades: git 1:2.25.1-1ubuntu3.2 → 3.3, perl-base 0.2 → 0.3",
           "package_update", agents=["linux-build-027"], tools=["git", "pkg:perl-base"]),
        ev("note", 3, "linux-build-027: rotated the agent's logs", "note", source="manual",
           agents=["linux-build-027"]),
        ev("ws", 2, "linux-build-027: workspace root moved to /data", "agent_config", "low",
           agents=["linux-build-027"]),
        ev("ws-seen", 1.9, "linux-build-027: remote FS root /home/jenkins → /data", "agent_config",
           source="poller", agents=["linux-build-027"]),
    ), cause=("cause",)),

    # Maven 3.8.1 blocks http:// repositories by default: a toolchain bumped to it reaches every build that uses
    # its Maven, on every agent. https://maven.apache.org/docs/3.8.1/release-notes.html
    Incident("toolchain-maven-3-8-1", "linux-build-033", last_success=24, tools=("maven",), events=(
        ev("cause", 12, "java-17-maven: Maven 3.6.3 → 3.8.1", "toolchain_change", "medium",
           toolchains=["java-17-maven"]),
        ev("note-1", 6, "linux-build-033 rebooted", "note", source="manual", agents=["linux-build-033"]),
        ev("chatter-1", 3, "linux-build-033: package tzdata 2021a → 2021e", "package_update", agents=["linux-build-033"], tools=["pkg:tzdata"]),
        ev("relabel", 2, "linux-build-033: label maven-cache added", "agent_config", "low",
           agents=["linux-build-033"]),
        ev("note-2", 1, "builds on linux-build-033 fail to resolve dependencies", "note", "medium", source="manual",
           agents=["linux-build-033"]),
    ), cause=("cause",), toolchains={"java-17-maven": ["jdk-17", "maven"]}),

    # Python 3.12 removed distutils (PEP 632): a toolchain bumped to 3.12 breaks builds whose setup still imports
    # it. The build names its toolchain; the change names the Python in it. https://peps.python.org/pep-0632/
    Incident("toolchain-python-3-12", "linux-build-044", last_success=30, tools=("python-3.x",), events=(
        ev("cause", 16, "python-3.12 installed as python3 on the build pool", "tool_update", "medium",
           tools=["python-3.12"]),
        ev("pip", 5, "linux-build-044: package python3-pip 23.0.1 → 23.3", "package_update", agents=["linux-build-044"], tools=["pkg:python3-pip"]),
        ev("note", 2, "linux-build-044 cleaned the pip cache", "note", source="manual", agents=["linux-build-044"]),
    ) + controller_chatter(4), cause=("cause",), toolchains={"python-3.x": ["python-3.12", "pip"]}),

    # setuptools 72 removed the `test` command; every package still calling `setup.py test` failed to build until
    # 72.1 put it back. The package poller saw the new version on the mirror the agents install from.
    # https://github.com/pypa/setuptools/issues/4519
    Incident("setuptools-72", "linux-build-008", last_success=10, tools=("setuptools",), events=(
        ev("cause", 6, "pypi/setuptools 71.1.0 → 72.0.0", "package_update", source="poller", tools=["setuptools"]),
        ev("wheel", 6, "pypi/wheel 0.43.0 → 0.44.0", "package_update", source="poller", tools=["wheel"]),
        ev("agent", 4, "linux-build-008: label py312 added", "agent_config", "low", agents=["linux-build-008"]),
        ev("agent-seen", 3.9, "linux-build-008: label py312 added", "agent_config", source="poller",
           agents=["linux-build-008"]),
    ) + controller_chatter(5), cause=("cause",)),

    # cryptography 3.4 needed a Rust compiler to build from source, and agents with an old pip (no wheel) failed.
    # https://github.com/pyca/cryptography/issues/5753
    Incident("cryptography-needs-rust", "centos7-build-003", last_success=20, tools=("cryptography",), events=(
        ev("cause", 15, "pypi/cryptography 3.3.2 → 3.4", "package_update", source="poller", tools=["cryptography"]),
        ev("yum", 6, "centos7-build-003: package openssl-libs 1.0.2k-19 → 1.0.2k-21", "package_update",
           agents=["centos7-build-003"], tools=["pkg:openssl-libs"]),
        ev("note", 2, "centos7-build-003: pip is 9.0.3 there", "note", "medium", source="manual",
           agents=["centos7-build-003"]),
    ), cause=("cause",)),

    # A noisy fleet: a JDK update on the agent, then a day of low-severity chatter and notes written while
    # investigating, all after the cause. Modelled on a Let's Encrypt root expiry investigation, where the agents'
    # routine updates buried the one change that mattered.
    # https://letsencrypt.org/docs/dst-root-ca-x3-expiration-september-2021/
    Incident("noisy-fleet-after-the-cause", "linux-build-051", last_success=30, events=(
        ev("cause", 20, "linux-build-051: JDK 8u292 → 8u302 (cacerts)", "tool_update", "low",
           agents=["linux-build-051"], tools=["jdk-8"]),
    ) + tuple(ev("apt-%d" % i, 18 - i * 2, "linux-build-051: package %s updated" % package, "package_update",
                 agents=["linux-build-051"], tools=["pkg:" + package])
              for i, package in enumerate(("libgnutls30", "libnss3", "curl", "wget", "libssl1.1", "tzdata"))) + tuple(
        ev("note-%d" % i, 6 - i, text, "note", severity, source="manual", agents=["linux-build-051"])
        for i, (text, severity) in enumerate((("TLS errors from linux-build-051?", "high"),
                                              ("restarted the agent", "info"),
                                              ("checked the proxy from linux-build-051: fine", "info"),
                                              ("opened INC-4411", "medium")))) + (
        ev("exec", 3, "linux-build-051: executors 2 → 3", "agent_config", source="poller", agents=["linux-build-051"]),
        ev("exec-intent", 3.1, "More executors on linux-build-051", "agent_config", "low",
           agents=["linux-build-051"]),
    ), cause=("cause",)),

    # A noisy fleet, the other way round: an Atlassian-style maintenance script that went wider than meant, run on
    # the artifact repository, among a night of routine changes. https://www.atlassian.com/engineering/post-incident-review-april-2022-outage
    Incident("maintenance-script-went-wide", "linux-build-060", last_success=10, events=(
        ev("cause", 6, "Nexus cleanup script: purge snapshots older than 30 days", "maintenance", "medium",
           ended=5),
    ) + tuple(ev("chatter-%d" % i, 5 - i * 0.5, "linux-build-060: package %s updated" % package, "package_update",
                 agents=["linux-build-060"], tools=["pkg:" + package])
              for i, package in enumerate(("libxml2", "libsqlite3-0", "python3.8", "openssh-client"))) + (
        ev("note", 1, "linux-build-060 dependency errors, looking", "note", "medium", source="manual",
           agents=["linux-build-060"]),
    ) + controller_chatter(3), cause=("cause",)),

    # CrowdStrike's channel file 291 (19 July 2024): a content update crashed Windows hosts and was reverted 78
    # minutes later. This build failed inside that window, before the revert.
    # https://www.crowdstrike.com/blog/falcon-update-for-windows-hosts-technical-details/
    Incident("bad-update-before-its-rollback", "windows-build-008", last_success=2, events=(
        ev("cause", 0.8, "Falcon sensor content update (channel file 291)", "package_update", "high",
           source="webhook", agents=["windows-build-008", "windows-build-009"], tools=["falcon-sensor"]),
        ev("note", 0.3, "windows-build-008 blue screen, rebooting", "note", "high", source="manual",
           agents=["windows-build-008"]),
        ev("defender", 1.5, "windows-build-008: Defender definitions 1.415.3 → 1.415.9", "package_update",
           agents=["windows-build-008"], tools=["pkg:defender-definitions"]),
    ) + controller_chatter(1), cause=("cause",)),

    # The same bad update, later: it was rolled back before this build failed, which failed for another reason (a
    # plugin update bundled with a Windows agent image rebuild). A reverted change counts for little.
    # https://github.com/nodejs/build/issues/2413 (a plugin downgraded by hand, then the next failure)
    Incident("reverted-before-the-failure", "windows-build-009", last_success=5, events=(
        ev("bad", 4, "Falcon sensor content update (channel file 291)", "package_update", "high",
           source="webhook", agents=["windows-build-009"], tools=["falcon-sensor"]),
        ev("rollback", 2.7, "Revert channel file 291", "rollback", "high", source="manual",
           agents=["windows-build-009"], tools=["falcon-sensor"], reverts="bad"),
        ev("cause", 1.5, "windows-build-009: image ci/windows-agent:2022 rebuilt with Git 2.45", "docker_image",
           "medium", agents=["windows-build-009"], tools=["ci/windows-agent:2022", "git"]),
        ev("note", 0.5, "windows-build-009 up again after the rollback", "note", source="manual",
           agents=["windows-build-009"]),
    ), cause=("cause",)),

    # A maintenance window of the artifact proxy that began before the job's last success and was still going on:
    # the job built fine during it, so it counts for little; an agent change after the success is the cause.
    # https://www.fastly.com/blog/summary-of-june-8-outage (a shared service the whole fleet depends on)
    Incident("built-fine-during-the-maintenance", "linux-build-070", last_success=3, events=(
        ev("maintenance", 5, "Artifactory maintenance: reindexing (read-only)", "maintenance", "medium",
           source="manual", ended=-1),
        ev("cause", 2, "linux-build-070: env GRADLE_USER_HOME changed", "agent_config", source="poller",
           agents=["linux-build-070"]),
        ev("note", 1, "linux-build-070 slow", "note", source="manual", agents=["linux-build-070"]),
    ), cause=("cause",)),

    # An agent image rebuilt by a pipeline of the build itself (recordChange in the failing build): the build
    # changed its own agent and then failed. https://github.com/actions/runner-images/issues/3812 (a runner image
    # update that broke Docker builds through its seccomp profile)
    Incident("image-update-on-the-agent", "linux-docker-040", last_success=24, tools=("docker",), events=(
        ev("cause", 10, "Agent image ubuntu-20.04 20210718.1: moby 20.10.7 → 20.10.8", "tool_update", "medium",
           agents=["linux-docker-040"], tools=["docker", "moby"]),
        ev("cause-seen", 9.9, "linux-docker-040: docker 20.10.7 → 20.10.8", "tool_update", source="poller",
           agents=["linux-docker-040"], tools=["docker"]),
        ev("kubectl", 6, "linux-docker-040: kubectl 1.21.2 → 1.21.3", "tool_update", "low",
           agents=["linux-docker-040"], tools=["kubectl"]),
        ev("kubectl-seen", 5.9, "linux-docker-040: kubectl 1.21.2 → 1.21.3", "tool_update", source="poller",
           agents=["linux-docker-040"], tools=["kubectl"]),
        ev("note", 2, "linux-docker-040 docker builds failing with EPERM", "note", "high", source="manual",
           agents=["linux-docker-040"]),
    ), cause=("cause", "cause-seen")),
)
