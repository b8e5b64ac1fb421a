"""gunicorn's logs without webhook secrets: senders that cannot sign (the Jenkins Notification plugin) put the
source's secret in ``?token=``, and the request line would otherwise carry it into every access-log line, and into
the error log's line for a request gunicorn refuses itself.

A parameter is redacted when its name, percent-decoded (as often as it decodes: ``%74oken``, ``tok%65n``,
``%2574oken``) with control characters and white space dropped (``token%00``, which the service refuses), reads
``token`` in any case. Use with ``gunicorn --logger-class app.http.access_log.RedactingLogger``
(``changetracker serve`` does).
"""
import logging
import re
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

SECRET_PARAMETERS = {"token"}
_PARAMETER = re.compile(r"(^|[?&;])([^=&;?\s]*)=([^&;\s]*)")
_NOT_PART_OF_A_NAME = re.compile(r"[\x00-\x20\x7f-\x9f]")


def secret_name(name):
    """Whether a query parameter named ``name`` (as sent, encoded) holds a secret."""
    for _ in range(4):  # %25 encodes %: a name encoded several times still ends up in the log decoded
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return _NOT_PART_OF_A_NAME.sub("", name).lower() in SECRET_PARAMETERS


def redact(text):
    """``text`` (a request line or query string) with the values of secret parameters replaced."""
    if not text:
        return text
    return _PARAMETER.sub(lambda m: "%s%s=[redacted]" % (m.group(1), m.group(2)) if secret_name(m.group(2))
                          else m.group(0), text)


class RedactingLogger(Logger):
    def __init__(self, cfg):
        super().__init__(cfg)
        # gunicorn logs a request it refuses itself (a malformed request line, say) as an error-log warning that
        # quotes the line.
        if not any(isinstance(f, _RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(_RedactingFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q", "f"):  # the request line, the query string, the Referer
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms


class _RedactingFilter(logging.Filter):
    """Error-log records with their message formatted and redacted (and no args left to format it again)."""

    def filter(self, record):
        record.msg, record.args = redact(record.getMessage()), ()
        return True
