"""GET /metrics: Prometheus text.

Two parts. The vital signs (app.ops.gauges) are read from the database at scrape time, so whichever gunicorn
process answers reports the same. The HTTP request counts and durations are counted in each process: with
PROMETHEUS_MULTIPROC_DIR set (``changetracker serve`` sets it under the instance folder) prometheus_client sums
them over the processes; without it a scrape sees the process that answered it.
"""
import os
import time

from flask import Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from app import __version__
from app.ops import gauges
from app.polling import poll_runs
from app.polling.poll_runs import STATUSES as POLL_STATUSES

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

REQUESTS = Counter("changetracker_http_requests", "HTTP requests answered, by method, route and status.",
                   ("method", "endpoint", "status"))
BUSY = Counter("changetracker_database_busy_refusals", "Requests answered 503 because the database stayed busy "
               "(locked by another writer past the wait, a deadlock broken, no free connection), by route.",
               ("endpoint",))
DURATION = Histogram("changetracker_http_request_duration_seconds", "Time to answer a request, by route.",
                     ("endpoint",), buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
# Every non-2xx answer of the receivers, so a sender refused for any reason (not only 401) can be alerted on.
# ``source`` is the path's name only once that source was found, else "unknown": strangers make no new series.
WEBHOOK_REFUSED = Counter("changetracker_webhook_refused", "Webhook deliveries refused, by kind, source and reason.",
                          ("kind", "source", "reason"))
WEBHOOK_DROPPED = Counter("changetracker_webhook_dropped",
                          "Registry reads (pulls, HEAD requests) accepted and dropped without an inbox item.",
                          ("kind", "source"))
REFUSAL_REASONS = {400: "bad_request", 401: "unauthorized", 404: "unknown_source", 405: "method_not_allowed",
                   413: "too_large", 415: "unsupported_media_type", 422: "not_an_envelope", 429: "rate_limited"}


def count_refused(kind, source, status):
    reason = REFUSAL_REASONS.get(status, "server_error" if status >= 500 else "other")
    WEBHOOK_REFUSED.labels(kind, source, reason).inc()


def count_dropped(kind, source, n):
    WEBHOOK_DROPPED.labels(kind, source).inc(n)


def instrument(app, durations=True):
    """Count, and with ``durations`` time, every request ``app`` answers (registered first, so the clock starts
    before the other before_request hooks). Routes are labelled by endpoint name, never by path: ids would make
    a series each. The webhook receivers are counted only: timing them cost a delivery ~10 us (bench/ingest.py),
    and their backlog, not their answer time, is what to watch."""
    if durations:
        @app.before_request
        def _start_clock():
            g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.pop("metrics_started", None) if durations else None
        endpoint = request.endpoint or "unmatched"
        method = request.method if request.method in METHODS else "other"  # any token is a method to werkzeug
        key = (method, endpoint, response.status_code)
        children = _CHILDREN.get(key)
        if children is None:
            children = _CHILDREN.setdefault(key, (REQUESTS.labels(key[0], endpoint, str(key[2])),
                                                  DURATION.labels(endpoint) if durations else None))
        children[0].inc()
        if started is not None and children[1] is not None:
            children[1].observe(time.perf_counter() - started)
        return response


# (method, endpoint, status) -> the labelled counter and histogram: labels() validates and locks on every call,
# which a webhook burst paid for on every delivery. Bounded by routes x methods x statuses.
_CHILDREN = {}


def exposition():
    """The /metrics response: this deployment's request metrics, then its vital signs."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        http = generate_latest(registry)
    else:
        http = generate_latest(REGISTRY)
    ledger = CollectorRegistry(auto_describe=False)
    ledger.register(_VitalsCollector(gauges.figures(poll_runs.timeout(current_app.config))))
    return Response(http + generate_latest(ledger), content_type=CONTENT_TYPE_LATEST)


class _VitalsCollector:
    def __init__(self, figures):
        self.figures = figures

    def collect(self):
        figures = self.figures
        info = GaugeMetricFamily("changetracker_build_info", "The running version (always 1).", labels=("version",))
        info.add_metric((__version__,), 1)
        yield info
        yield GaugeMetricFamily("changetracker_events", "Events stored in the ledger.", value=figures["events"])
        yield GaugeMetricFamily("changetracker_unplanned_events",
                                "Changes a poller or webhook detected with no intent recorded before them.",
                                value=figures["unplanned_events"])
        yield GaugeMetricFamily("changetracker_unplanned_events_last_day",
                                "Unplanned changes that occurred in the last 24 hours (alert when above 0).",
                                value=figures["unplanned_events_last_day"])
        items = GaugeMetricFamily("changetracker_inbox_items", "Webhook inbox items, by state.", labels=("state",))
        for state, n in figures["inbox"].items():
            items.add_metric((state,), n)
        yield items
        yield GaugeMetricFamily("changetracker_inbox_oldest_waiting_age_seconds",
                                "Age of the oldest pending or processing inbox item (0 when none waits).",
                                value=figures["inbox_oldest_waiting_age_seconds"])
        yield GaugeMetricFamily("changetracker_schedule_held",
                                "1 when a worker holds the schedule lease (pollers, retention, backups run).",
                                value=int(figures["schedule_held"]))
        started = GaugeMetricFamily("changetracker_poll_run_last_start_timestamp_seconds",
                                    "When each poller's newest run started (Unix time).", labels=("poller",))
        status = GaugeMetricFamily("changetracker_poll_run_last_status",
                                   "Each poller's newest run: 1 for its status, 0 for the others.",
                                   labels=("poller", "status"))
        counted = {name: GaugeMetricFamily("changetracker_poll_run_last_%s" % name, help_text, labels=("poller",))
                   for name, help_text in (("observed", "Targets each poller's newest run observed."),
                                           ("events", "Events each poller's newest run recorded."),
                                           ("errors", "Errors each poller's newest run reported."))}
        for run in figures["poll_runs"]:
            poller = run["poller"]
            started.add_metric((poller,), run["started_at"].timestamp())
            for name in sorted(set(POLL_STATUSES) | {run["status"]}):
                status.add_metric((poller, name), int(name == run["status"]))
            counted["observed"].add_metric((poller,), run["observed"])
            counted["events"].add_metric((poller,), run["events"])
            counted["errors"].add_metric((poller,), len(run["errors"] or []))
        yield from (started, status, *counted.values())

