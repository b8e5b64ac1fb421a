"""Tests of the documentation: its examples run, its links and names resolve."""
import re


def section(path, heading):
    """The text under ``heading`` (e.g. "## Pipeline steps") up to the next heading of its level or above."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ")[0]
    start = text.index("\n%s\n" % heading)
    following = re.search(r"\n#{1,%d} " % len(level), text[start + len(heading) + 2:])
    return text[start:start + len(heading) + 2 + following.start()] if following else text[start:]


def blocks(text, language):
    """The fenced code blocks of ``language`` in ``text``, in order."""
    return re.findall(r"```%s\n(.*?)```" % language, text, re.S)
