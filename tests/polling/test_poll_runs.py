"""Poll runs whose process died: 'abandoned' once older than the bound, on /readyz and the admin page too."""
from datetime import timedelta

from app.db import utcnow
from app.models import PollRun
from app.polling import poll_runs
from tests.conftest import connected

BOUND = timedelta(minutes=120)


def running(poller, started_ago):
    return PollRun.create(poller=poller, started_at=utcnow() - started_ago, status="running")


def test_a_run_running_for_longer_than_the_bound_is_abandoned_and_stays_so(app):
    with connected(app):
        dead = running("jenkins", timedelta(hours=3))
        alive = running("packages", timedelta(minutes=10))
        finished = PollRun.create(poller="registry", started_at=utcnow() - timedelta(days=2), status="ok",
                                  finished_at=utcnow() - timedelta(days=2))

        latest = {r["poller"]: r for r in poll_runs.latest_per_poller(BOUND)}
        assert {p: r["status"] for p, r in latest.items()} == {"jenkins": "abandoned", "packages": "running",
                                                               "registry": "ok"}
        assert latest["jenkins"]["finished_at"] is None  # nobody knows when it died
        assert latest["jenkins"]["errors"] == [{"target": "jenkins", "message": "no outcome 120 minutes after it "
                                                "started: its process was probably stopped"}]
        stored = PollRun.get_by_id(dead.id)
        assert stored.status == "abandoned"  # stored, not only shown

        assert poll_runs.settle_abandoned(BOUND) == 0  # settled once: no second note, no write
        assert len(PollRun.get_by_id(dead.id).errors) == 1
        assert [r["status"] for r in poll_runs.recent(10, BOUND)] == ["running", "abandoned", "ok"]
        assert PollRun.get_by_id(alive.id).status == "running" and PollRun.get_by_id(finished.id).status == "ok"
        # with a tighter bound the younger one goes too
        assert poll_runs.settle_abandoned(timedelta(minutes=5)) == 1


def test_a_slow_run_that_finishes_after_all_keeps_its_real_outcome(app):
    with connected(app):
        slow = running("jenkins", timedelta(hours=3))
        poll_runs.settle_abandoned(BOUND)
        # what app.polling.runner writes when the run ends
        PollRun.update(finished_at=utcnow(), status="ok", observed=9, errors=[]).where(PollRun.id == slow.id).execute()
        [run] = poll_runs.recent(10, BOUND)
        assert (run["status"], run["observed"], run["errors"]) == ("ok", 9, [])


def test_readyz_and_the_admin_page_show_a_dead_run_as_abandoned_per_the_configured_bound(app, client, auth):
    app.config["POLL_RUN_TIMEOUT_MINUTES"] = 30
    with connected(app):
        running("jenkins", timedelta(minutes=45))
        running("packages", timedelta(minutes=5))
    ready = client.get("/readyz")
    assert ready.status_code == 200  # pollers never take the web app out of service
    assert {r["poller"]: r["status"] for r in ready.json["poll_runs"]} == {"jenkins": "abandoned",
                                                                            "packages": "running"}
    auth.login("boss", role="admin")
    page = client.get("/admin/inbox").get_data(as_text=True)
    assert 'class="poll-run-abandoned">abandoned<' in page and 'class="poll-run-running">running<' in page
    assert "no outcome 30 minutes after it started: its process was probably stopped" in page  # the run's note
    assert "A run with no outcome 30 minutes after it started" in page  # the page says what abandoned means
