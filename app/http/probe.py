"""The container's health probe: ``python -m app.http.probe [URL]`` exits 0 when URL (default the local
/healthz) answers 200 within 4 seconds, else 1 with the reason. Standard library only, so a probe costs no
more than starting Python."""
import sys
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def main(argv):
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            if response.status == 200:
                return 0
            reason = "HTTP %d" % response.status
    except OSError as exc:  # refused, timed out, or an HTTP error status
        reason = str(exc)
    sys.stderr.write("unhealthy: %s: %s\n" % (url, reason))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
