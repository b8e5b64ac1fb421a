"""HTTP sessions for collectors and the snapshot push: timeouts always, retries through urllib3's Retry."""
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "changetracker-poller/1"
# Gateways and overloaded servers answer these transiently; a 500 is the server's answer, not a hiccup.
RETRY_STATUSES = (429, 502, 503, 504)


def retry_policy(retries, methods=("GET", "HEAD")):
    """Retry connection errors, read timeouts and transient statuses with exponential backoff.

    ``methods`` lists the methods safe to repeat; the snapshot push adds POST because submitting the
    same observation twice records nothing the second time."""
    return Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=0.3,
                 status_forcelist=RETRY_STATUSES, allowed_methods=frozenset(methods), raise_on_status=False,
                 respect_retry_after_header=True)


def adapter(retries, pool_size=10, methods=("GET", "HEAD")):
    return HTTPAdapter(max_retries=retry_policy(retries, methods), pool_connections=pool_size, pool_maxsize=pool_size)


def session(retries=2, pool_size=10, methods=("GET", "HEAD"), headers=None):
    """A requests.Session whose http:// and https:// calls retry as ``retry_policy`` says."""
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    s.headers.update(headers or {})
    for prefix in ("http://", "https://"):
        s.mount(prefix, adapter(retries, pool_size, methods))
    return s
