"""Hand-written SQL through the bare driver (sqlite3 / psycopg2): what each measured answer costs
without the service's layers, measured in the same run so the ratio survives a noisy machine.

Each query answers the same question as the domain function it shadows, with the same joins and
the same shape of plan (the junctions' (entity, occurred_at) indexes narrow by agent and time), so
the ratio shows what parsing, peewee and the Python around it add.
"""
import csv
import io

EVENT_COLUMNS = ("id", "title", "description", "type", "severity", "source", "occurred_at", "ended_at", "changes",
                 "links", "build_url", "metadata", "dedupe_key", "count", "first_seen", "last_seen", "reverts_id",
                 "created_by", "created_at", "updated_at")
# (name of the list, junction, its catalogue column, catalogue)
LINKED = (("agents", "event_agent", "agent_id", "agent"), ("tools", "event_tool", "tool_id", "tool"),
          ("toolchains", "event_toolchain", "toolchain_id", "toolchain"), ("tags", "event_tag", "tag_id", "tag"))


class Dialect:
    """The little that differs between the two drivers' SQL."""

    def __init__(self, kind):
        self.kind = kind
        self.mark = "?" if kind == "sqlite" else "%s"

    def marks(self, n):
        return ", ".join([self.mark] * n)

    def names_of(self, junction, column, catalogue):
        """The ';'-joined, sorted names an event links to through ``junction``."""
        if self.kind == "sqlite":
            return ("(SELECT group_concat(name, ';') FROM (SELECT c.name FROM %s j JOIN %s c ON c.id = j.%s "
                    "WHERE j.event_id = e.id ORDER BY c.name))" % (junction, catalogue, column))
        return ("(SELECT string_agg(c.name, ';' ORDER BY c.name) FROM %s j JOIN %s c ON c.id = j.%s "
                "WHERE j.event_id = e.id)" % (junction, catalogue, column))


def _event_select(dialect):
    columns = ", ".join("e.%s" % c for c in EVENT_COLUMNS)
    links = ", ".join("%s AS %s" % (dialect.names_of(junction, column, catalogue), name)
                      for name, junction, column, catalogue in LINKED)
    return "SELECT %s, %s FROM event e" % (columns, links)


def page_sql(dialect, agents, severities):
    """Newest first, 50 (+1 to know there is more) events in [from, to) on any of ``agents`` with one of
    ``severities``, with their agent/tool/toolchain/tag names. Parameters: from, to, severities,
    agent names, from, to, limit."""
    m = dialect.mark
    return ("%s WHERE e.occurred_at >= %s AND e.occurred_at < %s AND e.severity IN (%s) AND e.id IN ("
            "SELECT ea.event_id FROM event_agent ea WHERE ea.agent_id IN (SELECT id FROM agent WHERE name IN (%s)) "
            "AND ea.occurred_at >= %s AND ea.occurred_at < %s) "
            "ORDER BY e.occurred_at DESC, e.id DESC LIMIT %s"
            % (_event_select(dialect), m, m, dialect.marks(len(severities)), dialect.marks(len(agents)), m, m, m))


def page(conn, dialect, start, end, agents, severities, limit=50):
    sql = page_sql(dialect, agents, severities)
    cur = conn.cursor()
    cur.execute(sql, (start, end, *severities, *agents, start, end, limit + 1))
    rows = cur.fetchall()
    cur.close()
    return rows[:limit]


def timeline_sql(dialect):
    """Per day, agent (NULL: events naming none, the fleet lane) and severity: how many events in [from, to).
    Parameters: from, to (PostgreSQL: from, to, from, to).

    The cheapest form found for each database (bench/README.md): grouped by agent id, not name; on
    SQLite the day cut from the stored text rather than computed by strftime(); on PostgreSQL the
    links narrowed to the range by the junction's copy of occurred_at before the hash join."""
    m = dialect.mark
    if dialect.kind == "sqlite":
        day, links = "substr(e.occurred_at, 1, 10) || ' 00:00:00'", ""
    else:
        day, links = "date_trunc('day', e.occurred_at)", " AND ea.occurred_at >= %s AND ea.occurred_at < %s" % (m, m)
    return ("SELECT %s AS start, ea.agent_id, e.severity, count(e.id) "
            "FROM event e LEFT JOIN event_agent ea ON ea.event_id = e.id%s "
            "WHERE e.occurred_at >= %s AND e.occurred_at < %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" % (day, links, m, m))


def timeline(conn, dialect, start, end):
    cur = conn.cursor()
    cur.execute(timeline_sql(dialect), (start, end) if dialect.kind == "sqlite" else (start, end, start, end))
    rows = cur.fetchall()
    cur.close()
    return rows


def export_sql(dialect):
    m = dialect.mark
    return ("%s WHERE e.occurred_at >= %s AND e.occurred_at < %s ORDER BY e.occurred_at DESC, e.id DESC"
            % (_event_select(dialect), m, m))


def export(conn, dialect, start, end, batch=1000):
    """Every event in [from, to) as CSV, newest first, streamed: (rows, characters)."""
    if dialect.kind == "sqlite":
        cur = conn.cursor()
    else:
        conn.autocommit = False  # a server-side cursor lives in a transaction
        cur = conn.cursor(name="bench_export")  # server-side, so rows stream instead of landing all at once
        cur.itersize = batch
    cur.execute(export_sql(dialect), (start, end))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_COLUMNS + tuple(name for name, _, _, _ in LINKED))
    rows = size = 0
    while True:
        fetched = cur.fetchmany(batch)
        if not fetched:
            break
        writer.writerows(fetched)
        rows += len(fetched)
        size += len(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    cur.close()
    if dialect.kind != "sqlite":
        conn.rollback()
        conn.autocommit = True
    return rows, size


def suspects(conn, dialect, agent, start, end):
    """The candidates of a failed build's suspects, read by hand: (id, 1 when it names ``agent``, occurred_at, type,
    severity, ended_at, unplanned) of the agent's events in [start, end), then of the events in it that name no
    agent. The service also weighs tools, intervals going on at ``start`` and rollbacks, and scores every row."""
    m = dialect.mark
    sql = ("SELECT e.id, 1, e.occurred_at, e.type, e.severity, e.ended_at, e.unplanned FROM event_agent ea "
           "JOIN event e ON e.id = ea.event_id WHERE ea.agent_id = (SELECT id FROM agent WHERE name = %s) "
           "AND ea.occurred_at >= %s AND ea.occurred_at < %s "
           "UNION ALL SELECT e.id, 0, e.occurred_at, e.type, e.severity, e.ended_at, e.unplanned FROM event e "
           "WHERE e.occurred_at >= %s AND e.occurred_at < %s "
           "AND NOT EXISTS (SELECT 1 FROM event_agent ea WHERE ea.event_id = e.id)" % (m, m, m, m, m))
    cur = conn.cursor()
    cur.execute(sql, (agent, start, end, start, end))
    rows = cur.fetchall()
    cur.close()
    return rows
