"""What the benchmarks share: the --database choice, progress on the log, and their tables of figures."""
import logging


def log_progress():
    """INFO lines with times for the benchmark's progress; peewee's migration chatter left out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("peewee.migrations").setLevel(logging.WARNING)


def databases(parser, urls):
    """The --database values: 'sqlite' (the default) or postgresql:// URLs of servers; anything else is the
    parser's error."""
    urls = urls or ["sqlite"]
    for url in urls:
        if url != "sqlite" and not url.startswith(("postgresql://", "postgres://")):
            parser.error("--database takes 'sqlite' or a postgresql:// URL, not %r" % url)
    return urls


def verdict(ok):
    """A target's verdict: "MISSED" makes the benchmark exit 1."""
    return "ok" if ok else "MISSED"


def text_table(rows):
    """``rows`` (the first one the header) as aligned columns, a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
