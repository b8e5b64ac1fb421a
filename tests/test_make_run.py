"""`make run`, the first command of the README: the service and a worker beside it, stopped together by Ctrl-C;
installed without the test extras, on a Python it checks."""
import os
import signal
import subprocess
import sys
import time
import urllib.request

from app import ROOT
from tests.conftest import free_port
from tests.test_env_file import _changetracker

VENV = sys.prefix  # the virtualenv running the tests: `make run` uses it as it is (-o: not reinstalled)


def _make(*args, env=None, log=None):
    """`make ARGS` in its own process group (as a terminal runs it), its output in the file ``log``."""
    return subprocess.Popen(["make", "--no-print-directory", "-o", os.path.join(VENV, ".installed"), *args,
                             "VENV=" + VENV], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc, log):
    """Ctrl-C: the terminal signals the whole foreground group; what it printed."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    log.close()
    with open(log.name, encoding="utf-8") as text:
        return text.read()


def _get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
        return response.read().decode()


def _wait_for(url, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return _get(url)
        except OSError:
            assert proc.poll() is None, "make run stopped"
            time.sleep(0.3)
    raise AssertionError("%s never answered" % url)


def _alive(group):
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def test_make_run_serves_with_a_worker_and_ctrl_c_stops_both(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGETRACKER_")}
    env["CHANGETRACKER_INSTANCE_PATH"] = str(tmp_path / "instance")
    log = open(tmp_path / "make-run.log", "w", encoding="utf-8")
    proc = _make("run", "BIND=127.0.0.1:%d" % port, env=env, log=log)
    try:
        health = _wait_for("http://127.0.0.1:%d/healthz" % port, proc)
        assert '"status":"ok"' in health.replace(" ", "")
        token = _changetracker(["tokens", "create", "--user", "admin", "--scope", "read", "--name", "probe"],
                               ROOT, **{k: v for k, v in env.items() if k.startswith("CHANGETRACKER_")})
        secret = token.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 60
        while "changetracker_schedule_held 1.0" not in _get("http://127.0.0.1:%d/metrics" % port,
                                                            {"Authorization": "Bearer " + secret}):
            assert time.monotonic() < deadline, "no worker took the schedule"
            time.sleep(0.5)
    finally:
        output = _stop(proc, log)
    deadline = time.monotonic() + 30
    while _alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(proc.pid), "the server or the worker outlived Ctrl-C:\n" + output
    assert "created admin user 'admin' with password: " in output
    assert "Change Tracker on http://127.0.0.1:%d with a worker; Ctrl-C stops both. The CLI: %s/bin/changetracker" % (
        port, VENV) in output


def test_make_run_installs_the_service_without_the_test_extras(tmp_path):
    venv = tmp_path / "venv"
    dry = subprocess.run(["make", "--no-print-directory", "-n", str(venv / ".installed"), "VENV=%s" % venv],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert dry.returncode == 0, dry.stderr
    assert "%s/bin/pip install --quiet -e .\n" % venv in dry.stdout
    assert "[test]" not in dry.stdout


def test_make_run_says_which_python_it_needs(tmp_path):
    old = tmp_path / "python3.10"
    old.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python 3.10.12' && exit 0\nexit 1\n")
    old.chmod(0o755)

    proc = subprocess.run(["make", "--no-print-directory", str(tmp_path / "venv" / ".installed"),
                           "VENV=%s" % (tmp_path / "venv"), "PYTHON=%s" % old], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)

    assert proc.returncode != 0
    assert ("Change Tracker needs Python 3.11 or newer; %s is Python 3.10.12. Name another: make run "
            "PYTHON=python3.12" % old) in proc.stderr
    assert not (tmp_path / "venv").exists()
