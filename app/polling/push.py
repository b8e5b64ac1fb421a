"""Pushing a poll to a remote tracker (``changetracker poll --push URL``): the snapshots go to its
``/api/v1/snapshots``, where that tracker diffs them, then each finished run to its ``/api/v1/poll-runs``, so it
lists the run with its local ones. Nothing here touches the local database."""
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from app import __version__
from app.polling.collectors import error
from app.polling.collectors.http_session import session
from app.polling.poll_runs import MAX_ERRORS

PUSH_TIMEOUT = 30


class PushRefused(Exception):
    """The remote tracker refused the push as a whole (bad token, wrong URL): no point sending more."""


class Pusher:
    """POST snapshots, then each finished run, to a remote tracker: keep-alive, a few in parallel, retries (a
    repeated snapshot records nothing the second time and a repeated run is the stored one, so retrying a
    POST is safe)."""

    def __init__(self, url, token, concurrency=4):
        if not token:
            raise ValueError("pushing needs a token with the record scope (--token or CHANGETRACKER_TOKEN)")
        self.url = url.rstrip("/")
        self.endpoint = url.rstrip("/") + "/api/v1/snapshots"
        self.runs_endpoint = url.rstrip("/") + "/api/v1/poll-runs"
        self.concurrency = max(1, concurrency)
        self.http = session(retries=3, pool_size=self.concurrency + 2, methods=("POST",),
                            headers={"Authorization": "Bearer " + token,
                                     "User-Agent": "changetracker-poller/" + __version__})
        self.refused = None
        self._lock = threading.Lock()

    def version_note(self):
        """(the tracker's release, None) or (its release or None, why this poll's release may not suit it): snapshots
        and poll runs are the same within a major version; a different minor release may record less, or more."""
        try:
            version = self.http.get(self.url + "/healthz", timeout=PUSH_TIMEOUT).json().get("version")
        except (requests.RequestException, ValueError, AttributeError):
            version = None
        if version is None:
            return None, "%s/healthz names no release (older than 0.2.0, or not a tracker)" % self.url
        if version.split(".")[:2] != __version__.split(".")[:2]:
            return version, ("this poller is %s, the tracker at %s is %s: install the tracker's release where the "
                             "poll runs (the nightly job: the tag its checkout uses)" % (__version__, self.url, version))
        return version, None

    def push_all(self, observations):
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="push") as pool:
            outcomes = list(pool.map(self.push, observations))
        if self.refused:
            raise PushRefused(self.refused)
        return outcomes

    def push(self, item):
        if self.refused:
            return error(item["key"], "not sent: the tracker refused the push")
        try:
            response = self.http.post(self.endpoint, json=item, timeout=PUSH_TIMEOUT)
        except requests.RequestException as exc:
            return error(item["key"], exc)
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError:
                return error(item["key"], "the tracker answered 200 without JSON")
        message = _message(response)
        if response.status_code in (401, 403, 404, 405):
            with self._lock:
                self.refused = self.refused or "%s answered %d: %s" % (self.endpoint, response.status_code, message)
        return error(item["key"], "HTTP %d: %s" % (response.status_code, message))

    def report_run(self, report, began, ended):
        """POST a finished run (``report`` from app.polling.runner, which ran from ``began`` to ``ended``) to the tracker;
        (its run id, None) or (None, why not). Retrying is safe: the tracker answers a run it already has
        (same poller, start and end, to the microsecond) with that run."""
        if self.refused:
            return None, "not sent: the tracker refused the push"
        run = {name: report[name] for name in ("poller", "status", "observed", "changed", "events")}
        run.update(started_at=began.isoformat(), finished_at=ended.isoformat())
        run["errors"] = [{"target": str(e.get("target", ""))[:1000], "message": str(e.get("message", ""))[:1000]}
                         for e in report["errors"][:MAX_ERRORS]]
        try:
            response = self.http.post(self.runs_endpoint, json=run, timeout=PUSH_TIMEOUT)
        except requests.RequestException as exc:
            return None, str(exc)
        if response.status_code in (200, 201):
            try:
                return int(response.json()["id"]), None
            except (ValueError, KeyError, TypeError):
                return None, "the tracker answered %d without a run id" % response.status_code
        return None, "HTTP %d: %s" % (response.status_code, _message(response))




def _message(response):
    try:
        body = response.json()
        return "%s%s" % (body.get("message", ""), " %s" % body["errors"] if body.get("errors") else "")
    except (ValueError, AttributeError):
        return response.text[:200]
