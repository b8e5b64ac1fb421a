"""`.env.example` and `.env`: the example documents every setting with its real default, `changetracker` reads a
`.env` where it runs (the environment wins), and the example's placeholder secret key is refused."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from app import ROOT, config

EXAMPLE = os.path.join(ROOT, ".env.example")
SETTING = re.compile(r"^(#\s*)?CHANGETRACKER_([A-Z0-9_]+)=(.*)$", re.M)


def _example():
    with open(EXAMPLE, encoding="utf-8") as fh:
        return {name: (bool(commented), value) for commented, name, value in SETTING.findall(fh.read())}


def test_the_example_names_every_setting_and_its_active_lines_are_the_defaults():
    example = _example()
    assert set(config.DEFAULTS) <= set(example), "settings missing from .env.example"
    for name, (default, convert) in config.DEFAULTS.items():
        commented, value = example[name]
        if not commented:
            assert convert(value) == default, "copying .env.example must change nothing: %s" % name


def test_the_placeholder_secret_key_is_refused(tmp_path, monkeypatch):
    _, placeholder = _example()["SECRET_KEY"]
    monkeypatch.setenv("CHANGETRACKER_SECRET_KEY", placeholder)
    with pytest.raises(config.ConfigError, match="still the placeholder of .env.example: set a random one"):
        config.load(str(tmp_path))
    monkeypatch.setenv("CHANGETRACKER_SECRET_KEY", "Change-Me")
    with pytest.raises(config.ConfigError):
        config.load(str(tmp_path))


def _changetracker(args, cwd, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHANGETRACKER_")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=120)


def test_changetracker_reads_dot_env_where_it_runs_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text(
        "# settings for this folder\nCHANGETRACKER_DATABASE_URL=sqlite:///%s\nCHANGETRACKER_SECRET_KEY=%s\n"
        % (tmp_path / "from-dotenv.db", "a" * 64), encoding="utf-8")

    proc = _changetracker(["db", "upgrade"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "from-dotenv.db").exists()

    proc = _changetracker(["db", "upgrade"], tmp_path,
                          CHANGETRACKER_DATABASE_URL="sqlite:///%s" % (tmp_path / "from-environment.db"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "from-environment.db").exists()


def test_a_copy_of_the_example_is_a_working_dot_env(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / ".env")

    proc = _changetracker(["db", "upgrade"], tmp_path, CHANGETRACKER_INSTANCE_PATH=str(tmp_path / "instance"),
                          CHANGETRACKER_ENV="development")

    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "instance" / "changetracker.db").exists()
