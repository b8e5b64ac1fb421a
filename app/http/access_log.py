"""gunicorn's access log without webhook secrets: senders that cannot sign (the Jenkins Notification plugin) put
the source's secret in ``?token=``, and the request line would otherwise carry it into every log line.

Use with ``gunicorn --logger-class app.http.access_log.RedactingLogger`` (``changetracker serve`` does).
"""
import re

from gunicorn.glogging import Logger

_TOKEN = re.compile(r"((?:^|[?&])token=)[^&\s]*", re.IGNORECASE)


def redact(text):
    return _TOKEN.sub(r"\1[redacted]", text) if text else text


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "q"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
