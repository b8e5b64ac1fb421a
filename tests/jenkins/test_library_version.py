"""The steps tell the tracker which release of the library calls it (User-Agent), over both transports."""
import pytest
from flask import request

from app import __version__

pytestmark = pytest.mark.groovy

AGENT = {"name": "linux-03", "labels": "linux"}


@pytest.mark.parametrize("http_request_plugin", [True, False], ids=["httpRequest", "curl"])
def test_every_request_of_the_steps_names_the_library_release(app, run_pipeline, auth, http_request_plugin):
    seen = []
    app.before_request(lambda: seen.append(request.headers.get("User-Agent")) if request.path.startswith("/api/")
                       else None)
    credentials = {"change-tracker-token": auth.token(role="editor", scope="record", username="ci-bot")}

    proc, result = run_pipeline("""
        node('linux') {
            recordChange(title: 'JDK 21.0.5 on linux-03', type: 'tool_update', tools: ['jdk-21'])
            suspectChanges()
        }
    """, credentials, agent=AGENT, httpRequestPlugin=http_request_plugin, env={"NODE_NAME": None})

    assert result["result"] == "SUCCESS", proc.stdout + proc.stderr
    assert seen and set(seen) == {"changetracker-jenkins-library/" + __version__}
