import pytest

from tests.jenkins.jvm import executable, output, run


@pytest.fixture(scope="session")
def groovy():
    """The groovy launcher, checked to be 2.4: what compiles here compiles in Jenkins' CPS Groovy."""
    path = executable("groovy")
    proc = run([path, "--version"])
    assert proc.returncode == 0, output(proc)
    assert "Groovy Version: 2.4." in proc.stdout, "expected Groovy 2.4, got: %s" % proc.stdout.strip()
    return path
