"""The pollers file (TOML) and the one-controller environment variables."""
import os

import pytest

from app.polling.collectors.config import PollerConfigError, load, load_for_app

FILE = """
[defaults]
timeout = 5
retries = 1
concurrency = 16

[[jenkins]]
name = "main"
url = "https://jenkins.example.com/"
user = "change-tracker"
token_env = "MAIN_TOKEN"
exclude = ["ephemeral-*"]

[[jenkins]]
url = "https://legacy.example.com:8443/"
timeout = 30

[[registry]]
name = "hub"
url = "https://registry-1.docker.io"
images = ["library/python:3.12", "library/eclipse-temurin:21-jdk"]

[[package]]
index = "pypi"
name = "requests"

[[package]]
index = "npm"
name = "@angular/core"

[[package]]
index = "json"
name = "artifactory"
url = "https://artifactory.example.com/artifactory/api/system/version"
field = "version"
"""


def write(tmp_path, text):
    path = tmp_path / "pollers.toml"
    path.write_text(text)
    return str(path)


def test_file_with_every_section(tmp_path):
    settings = load(write(tmp_path, FILE), environ={"MAIN_TOKEN": "t0k"})
    main, legacy = settings.jenkins
    assert (main.name, main.user, main.token, main.timeout, main.retries, main.concurrency, main.exclude) == (
        "main", "change-tracker", "t0k", 5, 1, 16, ("ephemeral-*",))
    assert (legacy.name, legacy.timeout, legacy.token) == ("legacy.example.com:8443", 30, None)
    assert settings.registries[0].images == ("library/python:3.12", "library/eclipse-temurin:21-jdk")
    assert [(p.index, p.name, p.url) for p in settings.packages] == [
        ("pypi", "requests", "https://pypi.org"), ("npm", "@angular/core", "https://registry.npmjs.org"),
        ("json", "artifactory", "https://artifactory.example.com/artifactory/api/system/version")]
    assert settings.packages[2].field == "version"
    assert settings.snapshot_history == 20 and settings.source.endswith("pollers.toml")


def test_one_controller_from_the_environment_without_a_file(tmp_path):
    settings = load(environ={"CHANGETRACKER_INSTANCE_PATH": str(tmp_path),
                             "CHANGETRACKER_JENKINS_URL": "https://ci.example.com/",
                             "CHANGETRACKER_JENKINS_USER": "bot", "CHANGETRACKER_JENKINS_TOKEN": "secret",
                             "CHANGETRACKER_SNAPSHOT_HISTORY": "5"})
    [controller] = settings.jenkins
    assert (controller.name, controller.url, controller.user, controller.token) == (
        "ci.example.com", "https://ci.example.com/", "bot", "secret")
    assert settings.snapshot_history == 5 and settings.source is None
    assert settings.configured("jenkins") and not settings.configured("registry")


def test_app_config_overrides_the_environment(tmp_path):
    settings = load_for_app({"JENKINS_URL": "https://from-app/", "POLLERS_FILE": None, "SNAPSHOT_HISTORY": 3},
                            str(tmp_path), environ={})
    assert settings.jenkins[0].url == "https://from-app/" and settings.snapshot_history == 3


@pytest.mark.parametrize("text, message", [
    ("[[jenkins]]\nurl = 'ftp://x'\n", "jenkins.0.url"),
    ("[[jenkins]]\nurl = 'https://x'\ntokne = 'typo'\n", "Unknown field"),
    ("[[jenkins]]\nurl = 'https://x'\ntoken_env = 'NOT_SET_ANYWHERE'\n", "NOT_SET_ANYWHERE, which is not set"),
    ("[[jenkins]]\nurl = 'https://a'\nname = 'x'\n[[jenkins]]\nurl = 'https://b'\nname = 'x'\n", "two [[jenkins]]"),
    ("[[registry]]\nurl = 'https://r'\nimages = ['python']\n", "repository:tag"),
    ("[[package]]\nindex = 'json'\nname = 'x'\n", "needs url"),
    ("[[package]]\nindex = 'cpan'\nname = 'x'\n", "package.0.index"),
    ("[defaults]\nconcurrency = 0\n", "defaults.concurrency"),
    ("jenkins = [", "not valid TOML"),
])
def test_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(PollerConfigError, match=message.replace("[", r"\[")):
        load(write(tmp_path, text), environ={})


def test_an_explicit_file_must_exist(tmp_path):
    with pytest.raises(PollerConfigError, match="does not exist"):
        load(environ={"CHANGETRACKER_POLLERS_FILE": str(tmp_path / "missing.toml")})


def test_the_documented_example_file_loads():
    import os

    from app import ROOT

    settings = load(os.path.join(ROOT, "docs", "pollers.example.toml"), environ={
        "JENKINS_CI_MAIN_TOKEN": "a", "JENKINS_LEGACY_TOKEN": "b", "REGISTRY_PASSWORD": "c"})
    assert [c.name for c in settings.jenkins] == ["ci-main", "ci-legacy"]
    assert settings.jenkins[0].concurrency == 16 and settings.jenkins[1].timeout == 30
    assert [r.name for r in settings.registries] == ["dockerhub", "internal"]
    assert [p.index for p in settings.packages] == ["pypi", "npm", "json"]


def test_the_default_pollers_file_is_in_the_source_trees_instance_folder_or_the_working_directorys(tmp_path,
                                                                                                  monkeypatch):
    """Installed with `pip install .` (the nightly job), the package is in site-packages: its default pollers file
    must not be looked up there (issue 17: `pollers_file: null`, registry and package pollers skipped)."""
    from app import ROOT
    from app.polling.collectors import config

    assert config.default_instance_path() == os.path.join(ROOT, "instance")
    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "app" / "polling" / "collectors"
    installed.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert config.default_instance_path(str(installed / "config.py")) == str(tmp_path / "instance")

    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "pollers.toml").write_text('[[package]]\nindex = "pypi"\nname = "requests"\n')
    monkeypatch.setattr(config, "default_instance_path", lambda: str(tmp_path / "instance"))
    settings = config.load(environ={})
    assert settings.source == str(tmp_path / "instance" / "pollers.toml") and settings.packages
