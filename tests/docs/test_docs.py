"""The README and docs/ hold together: every link opens a file and a heading that exist, every `changetracker`
command they show is one the command line takes (command, options, required values), and every API path their
examples call is a route of the service."""
import re
import shlex
from pathlib import Path

import click
import pytest

from app import ROOT
from app.cli import main
from tests.docs import blocks

ROOT = Path(ROOT)
DOCS = ([ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "jenkins-shared-library" / "README.md"]
        + sorted((ROOT / "docs").glob("*.md")))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path):
    return {_slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"^#{1,6} ", line)}


def _prose(path):
    """The text outside code blocks: links in code are examples, not links."""
    return re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_link_opens_a_file_and_heading_that_exist(doc):
    broken = []
    for target in LINK.findall(_prose(doc)):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s)://, mailto: ...
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(target)
    assert not broken, "%s: broken links %s" % (doc.name, broken)


def test_the_readme_links_every_page_of_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if "(docs/%s)" % p.name not in readme]
    assert not missing


def _commands():
    """Every `changetracker ...` command in the docs' shell blocks, as (doc, arguments)."""
    found = []
    for doc in DOCS:
        for block in blocks(doc.read_text(encoding="utf-8"), "sh"):
            for line in block.replace("\\\n", " ").splitlines():
                for command in re.findall(r"(?:^|\$\(|[;&|]\s*)changetracker ([^#|)]*)", line.strip()):
                    command = re.sub(r"\[[^\]]*\]", "", command)  # [--optional NAME] as the docs note it
                    found.append((doc.name, shlex.split(command)))
    return found


def test_the_docs_show_changetracker_commands():
    names = {args[0] for _, args in _commands()}
    assert {"tokens", "users", "import", "export", "backup", "restore", "purge", "poll", "demo", "worker"} <= names


@pytest.mark.parametrize("doc, args", _commands(), ids=lambda value: " ".join(value) if isinstance(value, list)
                         else value)
def test_every_changetracker_command_in_the_docs_is_one_the_cli_takes(doc, args, tmp_path, monkeypatch):
    """Parsed as the command line would (options, choices, required values), without running anything; the files
    an example reads are there, as they would be after the example before it."""
    monkeypatch.chdir(tmp_path)
    for arg in args:
        if re.fullmatch(r"[\w-]+\.csv", arg):
            (tmp_path / arg).write_text("title\n", encoding="utf-8")
    command, rest, context = main, list(args), click.Context(main, info_name="changetracker")
    while isinstance(command, click.Group):
        name, rest = rest[0], rest[1:]
        command = command.get_command(context, name)
        assert command is not None, "%s: no command %r" % (doc, name)
        context = click.Context(command, info_name=name, parent=context)
    with command.make_context(name, rest, parent=context.parent):
        pass  # parsed; leaving the context closes the files it opened


def _api_paths():
    paths = set()
    for doc in DOCS:
        for block in blocks(doc.read_text(encoding="utf-8"), "sh"):
            paths.update(re.findall(r"\$CHANGETRACKER_URL(/(?:api/v1|hooks)/[^\s\"'?]*)", block))
    return sorted(paths)


def test_every_api_path_the_examples_call_is_a_route(app):
    assert len(_api_paths()) >= 10
    adapter_main = app.url_map.bind("localhost")
    hooks = app.wsgi_app.hooks_app.url_map.bind("localhost")
    missing = []
    for path in _api_paths():
        adapter = hooks if path.startswith("/hooks/") else adapter_main
        try:
            adapter.match(path, method=None)
        except Exception as exc:  # noqa: BLE001 - werkzeug answers NotFound, or MethodNotAllowed for a known path
            if type(exc).__name__ != "MethodNotAllowed":
                missing.append(path)
    assert not missing
