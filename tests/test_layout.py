"""The walls between the packages of app/ (docs/layout.md), read from the source of every module.

- The kernel (config, db, dialect, models, fields, errors, migrations) imports only the kernel.
- A capability imports the kernel and the capabilities below it in CAPABILITIES, never Flask or werkzeug, and
  never delivery (web, api, hooks, http, cli).
- The collectors import nothing of the app outside app.polling.collectors, and neither peewee nor the models:
  they observe and return plain data.
Every ``import``/``from`` counts, also inside functions: a lazy import is still a dependency.
"""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

from app import ROOT as _ROOT

ROOT = Path(_ROOT)

KERNEL = {"config", "db", "dialect", "models", "fields", "errors", "migrations"}
# Each capability and the capabilities it may use (besides the kernel).
CAPABILITIES = {
    "accounts": set(),
    "ledger": {"accounts"},
    "correlation": {"accounts", "ledger"},
    "polling": {"accounts", "ledger"},
    "ingest": {"accounts", "ledger", "polling"},
    "ops": {"accounts", "ledger", "correlation", "polling", "ingest"},
}
DELIVERY = {"web", "api", "hooks", "http", "cli"}
WEB_FRAMEWORKS = {"flask", "werkzeug", "flask_login", "flask_wtf", "flask_limiter", "jinja2"}
DATABASE_LIBRARIES = {"peewee", "playhouse", "psycopg2", "sqlite3"}
COLLECTORS = "app.polling.collectors"


def imported_modules(path, module):
    """Every module ``path`` (the module named ``module``) imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            # "from app.ledger import events" imports app.ledger.events: name the submodule when there is one
            found += [(node.lineno, "%s.%s" % (base, alias.name)) for alias in node.names]
            found.append((node.lineno, base))
    return found


def wall_breaches(root):
    """["app/ledger/events.py:12 imports flask (...)", ...] for every import that crosses a wall."""
    breaches = []
    for path in sorted((root / "app").rglob("*.py")):
        relative = path.relative_to(root)
        parts = relative.with_suffix("").parts
        if parts[1:2] == ("migrations",) and len(parts) > 2 and parts[2][:1].isdigit():
            continue  # frozen migrations import peewee only, and are run, never imported
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        top = parts[1] if len(parts) > 1 else "__init__"
        if top in DELIVERY or top == "__init__":
            continue  # delivery may use everything
        for line, name in imported_modules(path, module):
            problem = _problem(module, top, name)
            if problem:
                breaches.append("%s:%d imports %s (%s)" % (relative.as_posix(), line, name, problem))
    return sorted(set(breaches))


def _problem(module, top, name):
    library = name.split(".")[0]
    if library in WEB_FRAMEWORKS:
        return "no capability or kernel module may use the web framework"
    if module.startswith(COLLECTORS):
        if library in DATABASE_LIBRARIES:
            return "collectors observe; they never touch the database"
        if library == "app" and not name.startswith(COLLECTORS):
            return "collectors import nothing of the app outside app.polling.collectors"
        return None
    if library != "app" or name == "app":
        return None
    target = name.split(".")[1]
    if target in DELIVERY:
        return "%s is delivery; capabilities and the kernel never import it" % target
    if top in KERNEL:
        return None if target in KERNEL else "the kernel imports only the kernel"
    if target in KERNEL or target == top or target in CAPABILITIES[top]:
        return None
    if target in CAPABILITIES:
        return "%s may use only %s" % (top, ", ".join(sorted(CAPABILITIES[top])) or "the kernel")
    return None


def test_every_package_of_app_is_known_to_the_walls():
    packages = {p.name for p in (ROOT / "app").iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.stem for p in (ROOT / "app").glob("*.py")} - {"__init__"}
    assert packages | modules <= KERNEL | set(CAPABILITIES) | DELIVERY


def test_the_walls_hold():
    assert wall_breaches(ROOT) == []


def test_a_breached_wall_is_reported(tmp_path):
    """The check above is not vacuous: breaking each kind of wall in a copy of the tree is caught."""
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "app" / "ledger" / "events.py", "a", encoding="utf-8") as module:
        module.write("\n\ndef _leak():\n    from flask import request\n    return request\n")
    with open(tmp_path / "app" / "polling" / "fleet.py", "a", encoding="utf-8") as module:
        module.write("\nfrom app.web import pages  # noqa\n")
    with open(tmp_path / "app" / "polling" / "collectors" / "registry.py", "a", encoding="utf-8") as module:
        module.write("\nfrom app.models import Tool  # noqa\nimport peewee  # noqa\n")
    with open(tmp_path / "app" / "ledger" / "timeline.py", "a", encoding="utf-8") as module:
        module.write("\nfrom ..ops import retention  # noqa\n")
    with open(tmp_path / "app" / "db.py", "a", encoding="utf-8") as module:
        module.write("\nfrom app.ledger import events  # noqa\n")

    breaches = "\n".join(wall_breaches(tmp_path))

    assert "app/ledger/events.py" in breaches and "imports flask.request" in breaches
    assert "app/polling/fleet.py" in breaches and "app.web.pages (web is delivery" in breaches
    assert "app/polling/collectors/registry.py" in breaches and "imports peewee (collectors observe" in breaches
    assert "imports app.models.Tool (collectors import nothing of the app" in breaches
    assert "app/ledger/timeline.py" in breaches and "app.ops.retention (ledger may use only accounts)" in breaches
    assert "app/db.py" in breaches and "the kernel imports only the kernel" in breaches


def test_importing_any_capability_loads_no_web_framework():
    """What the CLI and the worker rely on: the capabilities run without Flask in memory."""
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
                     for top in CAPABILITIES for p in (ROOT / "app" / top).rglob("*.py") if p.stem != "__init__")
    script = ("import sys\nfor name in %r:\n    __import__(name)\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & %r))" % (modules, WEB_FRAMEWORKS))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert len(modules) >= 40
