"""The benchmark ledger: a realistic, seeded fleet history, bulk-loaded into a migrated database.

SQLite is the source of truth: the file is migrated with ``app.migrations.upgrade``, its secondary
indexes and FTS5 triggers are set aside, the rows go in with ``executemany`` in one transaction,
then the very same CREATE INDEX / CREATE TRIGGER statements are replayed and the FTS5 index is
rebuilt, so the result is exactly the schema the migrations make. The file is cached under
bench/.data/, keyed by the generator's parameters and the migration files, so re-runs skip the build.

PostgreSQL gets a throw-away database on the given server, migrated the same way and filled by
COPY from the cached SQLite file (so both hold the same rows); indexes and foreign keys are dropped
for the load and re-created from their own definitions, then ANALYZE.
"""
import csv
import hashlib
import io
import json
import logging
import os
import random
import sqlite3
import time
import uuid
from bisect import bisect
from datetime import datetime, timedelta, timezone
from itertools import accumulate

from app import migrations
from app.db import database, open_database
from app.ledger import buckets

log = logging.getLogger(__name__)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, ".data")
# Bump when the generator changes what it writes, so stale cache files are not reused.
GENERATOR_VERSION = 2
# The ledger ends here (fixed, so a cached file is the same whatever day it is built).
END = datetime(2026, 1, 1, tzinfo=timezone.utc)
CHUNK = 50_000

# The tables the generator fills, parents first; columns in the order rows are produced.
TABLES = {
    "agent": ("id", "name", "labels", "description", "url", "os", "executors", "offline", "last_seen_at",
              "created_at"),
    "tool": ("id", "name", "kind", "description", "url", "created_at"),
    "toolchain": ("id", "name", "description", "created_at"),
    "toolchain_tool": ("toolchain_id", "tool_id"),
    "tag": ("id", "name"),
    "event": ("id", "title", "description", "type", "severity", "source", "occurred_at", "ended_at", "changes",
              "links", "build_url", "metadata", "dedupe_key", "count", "first_seen", "last_seen", "reverts_id",
              "created_by", "created_at", "updated_at"),
    "event_agent": ("event_id", "agent_id", "occurred_at"),
    "event_tool": ("event_id", "tool_id", "occurred_at"),
    "event_toolchain": ("event_id", "toolchain_id", "occurred_at"),
    "event_tag": ("event_id", "tag_id", "occurred_at"),
}
BOOLEAN_COLUMNS = {("agent", "offline")}

# (value, weight): the mix of a fleet's history, skewed to routine machine-observed changes.
TYPES = (("tool_update", 18), ("package_update", 18), ("plugin_update", 14), ("agent_config", 14),
         ("docker_image", 12), ("deployment", 8), ("toolchain_change", 4), ("maintenance", 3), ("note", 3),
         ("jenkins_core", 2), ("outage", 2), ("rollback", 2))
SEVERITIES = (("info", 55), ("low", 25), ("medium", 12), ("high", 6), ("critical", 2))
INCIDENT_SEVERITIES = (("info", 5), ("low", 15), ("medium", 35), ("high", 30), ("critical", 15))
SOURCES = (("poller", 45), ("webhook", 25), ("pipeline", 20), ("manual", 7), ("import", 3))
AGENTS_PER_EVENT = ((0, 15), (1, 50), (2, 20), (3, 15))  # 0 = fleet-wide
TAGS_PER_EVENT = ((0, 40), (1, 35), (2, 20), (3, 5))
# The catalogue kinds of tool each type of event names; a type not listed names any tool now and then.
TOOL_KINDS = {"tool_update": ("jdk", "build"), "toolchain_change": ("jdk", "build"), "package_update": ("package",),
              "plugin_update": ("plugin",), "docker_image": ("image",), "rollback": ("jdk", "build", "plugin", "image"),
              None: ("jdk", "build", "plugin", "image", "package")}
# Controller-level changes are fleet-wide; agent-level ones name at least one agent.
FLEET_TYPES = {"plugin_update", "jenkins_core"}
AGENT_TYPES = {"agent_config", "maintenance", "tool_update", "package_update"}
INTERVAL_TYPES = {"outage", "maintenance"}
PEOPLE = ("alice", "bob", "chen", "dana", "emeka", "farah", "gus", "hana")
TOOLCHAINS = ("java-17-maven", "java-21-gradle", "node-20", "python-3.12", "android-sdk-34", "dotnet-8",
              "go-1.22", "cpp-gcc-13")
TAGS = ("security", "cve", "hotfix", "nightly", "infra", "network", "proxy", "storage", "jdk", "docker",
        "k8s", "windows", "macos", "arm64", "flaky", "performance", "compliance", "vendor", "rollback",
        "planned", "unplanned", "capacity", "cost", "audit", "certificates", "dns", "ldap", "artifactory",
        "nexus", "gradle-cache", "maven-mirror", "npm-mirror", "pypi-mirror", "release", "freeze",
        "weekend", "on-call", "incident", "postmortem", "experiment")


def cache_path(events, agents, days, seed):
    """bench/.data/ledger-<events>-<agents>a-<days>d-s<seed>-<hash>.db: the hash covers the generator
    version and the migration files, so a new migration (e.g. an index) gives a fresh build."""
    files = sorted(f for f in os.listdir(migrations.MIGRATIONS_DIR) if f.endswith(".py") and f[:1].isdigit())
    digest = hashlib.sha256()
    digest.update(str(GENERATOR_VERSION).encode())
    for name in files:
        digest.update(name.encode())
        with open(os.path.join(migrations.MIGRATIONS_DIR, name), "rb") as source:
            digest.update(source.read())
    return os.path.join(DATA_DIR, "ledger-%d-%da-%dd-s%d-%s.db" % (events, agents, days, seed,
                                                                   digest.hexdigest()[:10]))


def sqlite_ledger(events, agents, days, seed, rebuild=False):
    """The path of a built SQLite ledger for these parameters, building it unless cached."""
    path = cache_path(events, agents, days, seed)
    if os.path.exists(path) and not rebuild:
        log.info("using cached ledger %s", os.path.relpath(path))
        return path
    os.makedirs(DATA_DIR, exist_ok=True)
    building = "%s.building-%d" % (path, os.getpid())
    started = time.perf_counter()
    try:
        _build_sqlite(building, Fleet(events, agents, days, seed))
        os.replace(building, path)
    finally:
        for leftover in (building, building + "-wal", building + "-shm", building + "-journal"):
            if os.path.exists(leftover):
                os.remove(leftover)
    log.info("built %s in %.0f s (%.0f MiB)", os.path.relpath(path), time.perf_counter() - started,
             os.path.getsize(path) / 2**20)
    stem = os.path.basename(path).rsplit("-", 1)[0] + "-"
    for name in os.listdir(DATA_DIR):  # the same parameters built by an older generator or schema
        if name.startswith(stem) and not name.startswith(os.path.basename(path)):
            os.remove(os.path.join(DATA_DIR, name))
    return path


def _build_sqlite(path, fleet):
    db = open_database("sqlite:///%s" % path)
    migrations.upgrade(db)
    db.close()

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # no 1 GB WAL file during the load; back to WAL below
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -400000")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA foreign_keys = OFF")  # checked in bulk afterwards (foreign_key_check)
        tables = tuple(TABLES)
        marks = ",".join("?" * len(tables))
        set_aside = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
            "AND tbl_name IN (%s) ORDER BY rowid" % marks, tables).fetchall()
        conn.execute("BEGIN")
        for kind, name, _ in set_aside:
            conn.execute('DROP %s "%s"' % (kind.upper(), name))
        for table, rows in fleet.tables():
            columns = TABLES[table]
            conn.executemany('INSERT INTO "%s" (%s) VALUES (%s)' % (table, ", ".join(columns), ",".join("?" * len(columns))),
                             rows)
        log.info("  rows in; re-creating %d indexes and triggers", len(set_aside))
        for _, _, sql in set_aside:
            conn.execute(sql)
        log.info("  rebuilding the FTS5 index")
        conn.execute("INSERT INTO event_fts(event_fts) VALUES ('rebuild')")
        conn.execute("COMMIT")
        _recount(path)
        problems = conn.execute("PRAGMA foreign_key_check").fetchmany(5)
        if problems:
            raise RuntimeError("generated rows break foreign keys: %r" % problems)
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def _recount(url_or_path):
    """The timeline's per-day counts (kept by triggers, which were off during the load) from the loaded events."""
    db = open_database(url_or_path if "://" in url_or_path else "sqlite:///%s" % url_or_path)
    database.initialize(db)
    try:
        buckets.recount()
        if "://" in url_or_path:
            db.execute_sql("ANALYZE timeline_count")  # loaded after the load's VACUUM ANALYZE
    finally:
        db.close()


class Fleet:
    """A seeded history of ``events`` changes on ``agents`` agents over ``days`` days up to END."""

    def __init__(self, events, agents, days, seed):
        self.events, self.agent_count, self.days = events, agents, days
        self.rng = random.Random(seed)
        self.start = END - timedelta(days=days)

    # -- catalogue ------------------------------------------------------------------------------
    def tables(self):
        """(table name, iterable of row tuples), parents first."""
        rng = self.rng
        epoch = _stamp(self.start - timedelta(days=30))
        self.agents = self._agents(epoch)
        yield "agent", self.agents
        self.tools = self._tools(epoch)
        yield "tool", self.tools
        yield "toolchain", [(i + 1, name, "%s builds" % name, epoch) for i, name in enumerate(TOOLCHAINS)]
        yield "toolchain_tool", sorted({(i + 1, rng.randrange(len(self.tools)) + 1)
                                        for i in range(len(TOOLCHAINS)) for _ in range(4)})
        yield "tag", [(i + 1, name) for i, name in enumerate(TAGS)]
        self.links = {name: [] for name in ("event_agent", "event_tool", "event_toolchain", "event_tag")}
        yield "event", self._events()
        for name, rows in self.links.items():
            yield name, rows
        self.links = None

    def _agents(self, epoch):
        rng = self.rng
        kinds = (("linux", "build", 40), ("linux", "test", 15), ("linux", "docker", 12), ("windows", "build", 12),
                 ("macos", "build", 8), ("linux", "arm64", 6), ("linux", "perf", 4), ("linux", "deploy", 3))
        pick = _picker([(k[:2], k[2]) for k in kinds])
        rows = []
        for i in range(self.agent_count):
            os_name, pool = pick(rng)
            name = "%s-%s-%03d" % (os_name, pool, i + 1)
            labels = [os_name, pool, "arm64" if pool == "arm64" else "x86_64"] + (["docker"] if rng.random() < .5 else [])
            rows.append((i + 1, name, json.dumps(labels), "", "https://ci-%d.example.com/computer/%s/" % (i % 6 + 1, name),
                         os_name, rng.choice((1, 2, 4, 8)), 1 if rng.random() < .03 else 0,
                         _stamp(END - timedelta(minutes=rng.randrange(600))), epoch))
        # Some agents are much busier than others (Zipf-like), in a shuffled order.
        weights = [1 / (rank + 10) ** 0.7 for rank in range(self.agent_count)]
        rng.shuffle(weights)
        self.agent_weights = list(accumulate(weights))
        return rows

    def _tools(self, epoch):
        rng = self.rng
        names = (["jdk-%d" % v for v in (8, 11, 17, 21)] + ["node-%d" % v for v in (16, 18, 20, 22)]
                 + ["python-3.%d" % v for v in range(8, 14)] + ["maven", "gradle", "docker", "git", "kubectl", "helm",
                                                                 "terraform", "ansible", "gcc", "clang", "cmake",
                                                                 "dotnet-sdk", "go", "rustc", "android-sdk", "xcode"]
                 + ["%s-plugin" % p for p in ("git", "workflow-aggregator", "credentials", "kubernetes", "docker-workflow",
                                              "blueocean", "matrix-auth", "configuration-as-code", "job-dsl", "ssh-agent",
                                              "timestamper", "ws-cleanup", "junit", "jacoco", "sonar", "slack",
                                              "email-ext", "pipeline-stage-view", "lockable-resources", "throttle")]
                 + ["image:%s" % i for i in ("builder-jdk17", "builder-node20", "builder-python", "agent-base",
                                              "sonar-scanner", "chrome-headless", "android-emulator", "terraform-runner")]
                 + ["pkg:%s" % p for p in ("openssl", "curl", "libc6", "ca-certificates", "tzdata", "zlib", "libssl3",
                                          "git-lfs", "unzip", "python3-pip", "nodejs", "yarn", "maven-wrapper")])
        rows = []
        for i, name in enumerate(names):
            kind = ("plugin" if name.endswith("-plugin") else "image" if name.startswith("image:")
                    else "package" if name.startswith("pkg:") else "jdk" if name.startswith("jdk") else "build")
            rows.append((i + 1, name, kind, "", None, epoch))
        # Per kind of event, the tools it can name, some far more often than others.
        self.tool_pools = {}
        for event_type, kinds in TOOL_KINDS.items():
            ids = [row[0] - 1 for row in rows if row[2] in kinds]
            weights = [1 / (rank + 3) for rank in range(len(ids))]
            rng.shuffle(weights)
            self.tool_pools[event_type] = (ids, list(accumulate(weights)))
        return rows

    # -- events ---------------------------------------------------------------------------------
    def _events(self):
        """Event rows in occurred_at order (ids grow with time, as they do in a live ledger)."""
        rng = self.rng
        span = self.days * 86400
        base = self.start.timestamp()
        # Busier on weekdays and office hours: thin out night and weekend draws.
        offsets = []
        while len(offsets) < self.events:
            t = rng.random() * span
            hour = (t // 3600) % 24
            weekday = (t // 86400 + self.start.weekday()) % 7
            keep = (0.35 if weekday >= 5 else 1.0) * (1.0 if 7 <= hour <= 19 else 0.5)
            if rng.random() < keep:
                offsets.append(int(t))
        offsets.sort()
        versions = ["%d.%d.%d" % (rng.randrange(1, 30), rng.randrange(20), rng.randrange(50)) for _ in range(400)]
        descriptions = [""] * 6 + [_sentence(rng) for _ in range(400)]
        digests = ["sha256:%064x" % rng.getrandbits(256) for _ in range(200)]
        agent_names = [a[1] for a in self.agents]
        tool_names = [t[1] for t in self.tools]
        pick_type, pick_severity, pick_incident = _picker(TYPES), _picker(SEVERITIES), _picker(INCIDENT_SEVERITIES)
        pick_source, pick_agents, pick_tags = _picker(SOURCES), _picker(AGENTS_PER_EVENT), _picker(TAGS_PER_EVENT)
        agent_weights, agent_total, tool_pools = self.agent_weights, self.agent_weights[-1], self.tool_pools
        links = self.links
        event_agent, event_tool, event_toolchain, event_tag = (links["event_agent"], links["event_tool"],
                                                               links["event_toolchain"], links["event_tag"])
        for start in range(0, self.events, CHUNK):
            rows = []
            for index in range(start, min(start + CHUNK, self.events)):
                event_id = index + 1
                seconds = offsets[index]
                at = _stamp_seconds(base + seconds)
                kind = pick_type(rng)
                source = pick_source(rng)
                severity = pick_incident(rng) if kind in INTERVAL_TYPES or kind == "rollback" else pick_severity(rng)
                agent_count = 0 if kind in FLEET_TYPES and rng.random() < .9 else pick_agents(rng)
                if agent_count == 0 and kind in AGENT_TYPES:
                    agent_count = 1
                agents = sorted({bisect(agent_weights, rng.random() * agent_total) for _ in range(agent_count)})
                if kind in TOOL_KINDS:
                    tool_count = 1 if rng.random() < .8 else 2
                    pool, cumulative = tool_pools[kind]
                else:
                    tool_count = 1 if rng.random() < .15 else 0
                    pool, cumulative = tool_pools[None]
                tools = sorted({pool[bisect(cumulative, rng.random() * cumulative[-1])] for _ in range(tool_count)})
                tags = sorted({rng.randrange(len(TAGS)) for _ in range(pick_tags(rng))})
                where = agent_names[agents[0]] if agents else "the fleet"
                what = tool_names[tools[0]] if tools else kind.replace("_", " ")
                before, after = versions[rng.randrange(400)], versions[rng.randrange(400)]
                title = _TITLES[kind] % {"what": what, "where": where, "before": before, "after": after,
                                         "n": event_id % 997}
                changes = ('[{"path":"tools.%s","before":"%s","after":"%s"}]' % (what, before, after)
                           if tools and kind != "note" else "[]")
                links_json = ('[{"url":"https://jira.example.com/browse/OPS-%d","text":"OPS-%d"}]' % (event_id % 9000,
                                                                                                     event_id % 9000)
                              if rng.random() < .1 else "[]")
                controller = "ci-%d" % (event_id % 6 + 1)
                build_url = ("https://%s.example.com/job/platform/job/app-%d/%d/" % (controller, event_id % 40,
                                                                                     event_id % 5000 + 1)
                             if source == "pipeline" else None)
                roll = rng.random()
                if roll < .2:
                    metadata = "{}"
                elif kind == "docker_image":
                    metadata = '{"controller":"%s","digest":"%s","registry":"registry.example.com"}' % (
                        controller, digests[rng.randrange(200)])
                else:
                    metadata = '{"controller":"%s","observer":"%s","run":%d}' % (controller, source, event_id % 100000)
                dedupe_key = ("%s:%s:%s" % (source, where, what) if source == "poller" and rng.random() < .3 else None)
                count = 1 if source not in ("poller", "webhook") or rng.random() < .9 else rng.randrange(2, 6)
                ended_at = (_stamp_seconds(base + seconds + rng.randrange(300, 14400))
                            if kind in INTERVAL_TYPES else None)
                reverts = (event_id - rng.randrange(1, 5000)) if kind == "rollback" and event_id > 5000 else None
                created_by = (PEOPLE[event_id % len(PEOPLE)] if source in ("manual", "import")
                              else "%s:%s" % (source, controller))
                # Recorded a little after it happened; the service stamps these with utcnow() (microseconds).
                recorded = _stamp_seconds(base + seconds + rng.randrange(1, 120)) + ".%06d" % rng.randrange(1000000)
                rows.append((event_id, title, descriptions[rng.randrange(len(descriptions))] if roll < .4 else "",
                             kind, severity, source, at, ended_at, changes, links_json, build_url, metadata, dedupe_key,
                             count, recorded, recorded, reverts, created_by, recorded, recorded))
                for agent in agents:
                    event_agent.append((event_id, agent + 1, at))
                for tool in tools:
                    event_tool.append((event_id, tool + 1, at))
                if kind == "toolchain_change" or rng.random() < .03:
                    event_toolchain.append((event_id, rng.randrange(len(TOOLCHAINS)) + 1, at))
                for tag in tags:
                    event_tag.append((event_id, tag + 1, at))
            yield from rows
            if start and start % (10 * CHUNK) == 0:
                log.info("  %d events generated", start)


_TITLES = {
    "tool_update": "%(what)s %(before)s -> %(after)s on %(where)s",
    "package_update": "%(what)s upgraded to %(after)s on %(where)s",
    "plugin_update": "Plugin %(what)s updated %(before)s -> %(after)s",
    "agent_config": "Agent %(where)s relabelled (%(what)s)",
    "docker_image": "Image %(what)s re-tagged %(after)s",
    "deployment": "Deployed %(what)s %(after)s from %(where)s",
    "toolchain_change": "Toolchain with %(what)s moved to %(after)s",
    "maintenance": "Maintenance window on %(where)s",
    "note": "Note: watch %(where)s after change #%(n)d",
    "jenkins_core": "Jenkins core %(before)s -> %(after)s",
    "outage": "Outage: artifact proxy unreachable from %(where)s",
    "rollback": "Rolled back %(what)s to %(before)s on %(where)s",
}
_WORDS = ("upgrade", "proxy", "timeout", "cache", "mirror", "certificate", "restart", "label", "executor", "disk",
          "memory", "kernel", "patch", "vendor", "nightly", "rollout", "canary", "window", "ticket", "flaky",
          "network", "dns", "registry", "plugin", "security", "advisory", "maven", "gradle", "node", "jdk")


def _sentence(rng):
    words = [rng.choice(_WORDS) for _ in range(rng.randrange(6, 30))]
    return (" ".join(words).capitalize() + ".").replace(" dns", " DNS")


def _picker(weighted):
    """A fast weighted choice over ``(value, weight)`` pairs: pick(rng) -> value."""
    values = [v for v, _ in weighted]
    cumulative = list(accumulate(w for _, w in weighted))
    total = cumulative[-1]
    return lambda rng: values[bisect(cumulative, rng.random() * total)]


def _stamp(moment):
    """The naive-UTC text peewee's DateTimeField stores on SQLite."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _stamp_seconds(seconds):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


# -- PostgreSQL ---------------------------------------------------------------------------------
def postgres_ledger(server_url, sqlite_path):
    """A new database on ``server_url``'s server, migrated and filled with the SQLite ledger's rows.

    Returns (url, drop): ``drop()`` removes the database again.
    """
    import psycopg2
    from playhouse.db_url import parse

    url, drop = throwaway_postgres(server_url)
    try:
        started = time.perf_counter()
        _load_postgres(psycopg2.connect(**parse(url)), sqlite_path)
        _recount(url)
        log.info("built PostgreSQL database %s in %.0f s", url.rsplit("/", 1)[-1], time.perf_counter() - started)
    except BaseException:
        drop()
        raise
    return url, drop


def throwaway_postgres(server_url):
    """A new, migrated, empty database on ``server_url``'s server (the role needs CREATEDB).

    Returns (url, drop): ``drop()`` removes the database again, connections and all.
    """
    import psycopg2
    import psycopg2.errors
    from playhouse.db_url import parse
    from psycopg2 import sql

    admin = psycopg2.connect(**parse(server_url))
    admin.autocommit = True
    name = "changetracker_bench_%s" % uuid.uuid4().hex[:8]
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop():
        # FORCE ends our own connections, but not an autovacuum worker's (the server's superuser owns it): then
        # wait for it to finish and try again.
        for attempt in range(60):
            try:
                with admin.cursor() as cur:
                    cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                break
            except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.ObjectInUse):
                if attempt == 59:
                    raise
                time.sleep(1)
        admin.close()
        log.info("dropped PostgreSQL database %s", name)

    url = _with_database(server_url, name)
    try:
        db = open_database(url)
        migrations.upgrade(db)
        db.close()
    except BaseException:
        drop()
        raise
    return url, drop


def _with_database(url, name):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return "%s://%s/%s%s" % (parts.scheme, parts.netloc, name, "?" + parts.query if parts.query else "")


def _load_postgres(conn, sqlite_path):
    tables = list(TABLES)
    source = sqlite3.connect("file:%s?mode=ro" % sqlite_path, uri=True)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)", (['"%s"' % t for t in tables]
                                                                                     + tables,))
            foreign_keys = cur.fetchall()
            cur.execute("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                        "WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))", (tables,))
            indexes = cur.fetchall()
            for table, constraint, _ in foreign_keys:
                cur.execute('ALTER TABLE %s DROP CONSTRAINT "%s"' % (table, constraint))
            for table in tables:  # the timeline-count triggers; the counts are refilled in one statement below
                cur.execute('ALTER TABLE "%s" DISABLE TRIGGER USER' % table)
            for index, _ in indexes:
                cur.execute('DROP INDEX "%s"' % index)
            for table, columns in TABLES.items():
                _copy(cur, source, table, columns)
            log.info("  rows in; re-creating %d indexes and %d foreign keys", len(indexes), len(foreign_keys))
            cur.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                cur.execute(definition)
            for table, constraint, definition in foreign_keys:
                cur.execute('ALTER TABLE %s ADD CONSTRAINT "%s" %s' % (table, constraint, definition))
            for table in tables:
                cur.execute('ALTER TABLE "%s" ENABLE TRIGGER USER' % table)
            for table, columns in TABLES.items():
                if columns[0] == "id":
                    cur.execute("SELECT setval(pg_get_serial_sequence('\"%s\"', 'id'), (SELECT max(id) FROM \"%s\"))"
                                % (table, table))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    finally:
        source.close()
        conn.close()


def _copy(cur, source, table, columns):
    booleans = [i for i, c in enumerate(columns) if (table, c) in BOOLEAN_COLUMNS]
    rows = source.execute('SELECT %s FROM "%s" ORDER BY rowid' % (", ".join(columns), table))
    statement = 'COPY "%s" (%s) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')' % (table, ", ".join(columns))
    while True:
        batch = rows.fetchmany(CHUNK)
        if not batch:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in batch:
            row = ["\\N" if v is None else v for v in row]
            for i in booleans:
                row[i] = "t" if row[i] else "f"
            writer.writerow(row)
        buffer.seek(0)
        cur.copy_expert(statement, buffer)
