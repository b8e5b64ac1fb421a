"""Running Debian's Groovy 2.4 (the Groovy of Jenkins pipelines) from the tests of tests/jenkins/."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "jenkins-shared-library"
DEBIAN_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
JVM_TIMEOUT = 180  # seconds; a run normally takes a few


def executable(name):
    path = shutil.which(name) or next((p for p in ["/usr/bin/" + name] if os.access(p, os.X_OK)), None)
    if path is None:
        pytest.fail("%s not found: install Debian's groovy package (Groovy 2.4, as in Jenkins)" % name)
    return path


def jvm_env():
    env = dict(os.environ)
    if not env.get("JAVA_HOME") and os.path.isdir(DEBIAN_JAVA_HOME):
        env["JAVA_HOME"] = DEBIAN_JAVA_HOME
    return env


def run(command, **kwargs):
    """A JVM command in the library's folder; stdout and stderr as text."""
    kwargs.setdefault("cwd", LIBRARY)
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=jvm_env(),
                          timeout=JVM_TIMEOUT, **kwargs)


def output(proc):
    return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (proc.returncode, proc.stdout, proc.stderr)
