"""The timeline page's filter form: UTC datetime-local fields, errors shown in place, and the 500-event cap said out loud."""
from app.accounts.audit import Actor
from app.ledger.events import record_event
from tests.conftest import connected


def test_datetime_local_values_mean_utc(client, auth, app):
    with connected(app):
        record_event({"title": "inside", "occurred_at": "2026-11-20T10:00:00Z"}, Actor("t"))
        record_event({"title": "outside", "occurred_at": "2026-11-20T12:30:00Z"}, Actor("t"))
    auth.login("viewer", role="viewer")
    html = client.get("/?from=2026-11-20T09:00&to=2026-11-20T11:00").get_data(as_text=True)
    assert "inside" in html and "outside" not in html
    assert 'value="2026-11-20T09:00"' in html  # the form keeps what was asked


def test_bad_filters_keep_the_form_and_say_what_is_wrong(client, auth):
    auth.login("viewer", role="viewer")
    response = client.get("/?from=yesterday&severity=urgent")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<form class="stacked ledger-filters" method="get" action="/"' in html
    assert "Not a valid ISO 8601 datetime." in html and "Must be one of" in html
    assert "[&#39;" not in html and "['" not in html  # messages, not Python lists


def test_the_page_says_when_it_groups_events(client, auth, app):
    with connected(app):
        for i in range(3):
            record_event({"title": "event %d" % i}, Actor("t"))
    app.config["TIMELINE_MAX_EVENTS"] = 2
    auth.login("viewer", role="viewer")
    html = client.get("/").get_data(as_text=True)
    assert "Grouped:" in html and "3 markers in these lanes are drawn as one marker per hour" in html
