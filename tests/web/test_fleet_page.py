"""The /fleet page: the drift tables with outliers highlighted and linked to their events."""
import re

from tests.api.test_fleet import observe_agent, observe_plugins
from tests.conftest import connected


def test_fleet_page_highlights_outliers(app, client, auth):
    with connected(app):
        for name in ("linux-01", "linux-02", "linux-03"):
            observe_agent(name, "/opt/jdk-17.0.9")
        upgrade = observe_agent("linux-03", "/opt/jdk-21.0.2", minutes=5)
        observe_plugins("ci", "2.462.3", git="5.2.1")
    auth.login("reader", role="viewer")
    page = client.get("/fleet")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/fleet"' in html  # the nav link
    assert "3 agents, 1 controllers; 1 value differs from the majority" in " ".join(html.split())
    cell = re.search(r'<td class="outlier" data-column="JDK"[^>]*>(.*?)</td>', html).group(1)
    assert cell == '<a href="/events/%d">21.0.2</a>' % upgrade["event_id"]
    assert html.count('class="outlier"') == 1
    assert "majority 17.0.9" in html
    assert "/static/css/fleet.css" in html


def test_empty_fleet_says_how_to_fill_it(client, auth):
    auth.login("reader", role="viewer")
    html = client.get("/fleet").get_data(as_text=True)
    assert "Nothing observed yet" in html and "changetracker poll jenkins" in html


def test_fleet_page_needs_a_login(client):
    response = client.get("/fleet")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
