#!/usr/bin/env bash
# The nightly poller job's work (Jenkinsfile, stage "Poll"), kept here so that it can be run and tested outside
# Jenkins: install Change Tracker into a virtualenv, run every poller once, push what they observed to the tracker
# (which records what changed) and write a JSON summary of what each poller saw and changed.
#
#   CHANGETRACKER_URL            the tracker to push to (required)
#   CHANGETRACKER_TOKEN          its API token, record scope; read by the changetracker command from the environment,
#                                never passed on the command line
#   CHANGETRACKER_JENKINS_URL    the Jenkins to poll (default: JENKINS_URL, the controller running this job)
#   CHANGETRACKER_JENKINS_USER   its API user and token
#   CHANGETRACKER_JENKINS_TOKEN
#   CHANGETRACKER_POLLERS_FILE   the pollers file (registries, packages, more controllers): the Config File Provider
#                                file the Jenkinsfile binds, or a path in the workspace; default ci/pollers.toml when
#                                the checkout has one; none: only the Jenkins above
#   CHANGETRACKER_POLLER_SECRETS a file of NAME=value lines (the Secret file credential the Jenkinsfile binds), each
#                                exported for the pollers file's token_env and password_env to name
#   PYTHON                       the interpreter to install with (default python3): Python 3.11 or newer
#   CHANGETRACKER_VENV           the virtualenv (default: .venv in the workspace, kept between runs)
#   POLL_SUMMARY                 the summary file (default: poll-summary.json, archived by the job)
#
# Exit status: the poll command's, 1 when a poller failed (its error is on stderr, so in the build log); 2 when the
# job is set up wrong (what is missing is on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
summary="${POLL_SUMMARY:-poll-summary.json}"
rm -f "$summary"  # a summary left by an earlier run must not be archived as this one's, even when this one stops early

: "${CHANGETRACKER_URL:?set CHANGETRACKER_URL to the tracker, e.g. https://changes.example.com}"
if [ -z "${CHANGETRACKER_TOKEN:-}" ]; then
    echo "nightly-poll: no tracker token: bind the 'change-tracker-token' credential to CHANGETRACKER_TOKEN" >&2
    exit 2
fi
export CHANGETRACKER_JENKINS_URL="${CHANGETRACKER_JENKINS_URL:-${JENKINS_URL:-}}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    found="$(command -v "$python" >/dev/null && "$python" --version 2>&1 || echo 'not installed')"
    echo "nightly-poll: Change Tracker needs Python 3.11 or newer; $python: $found." \
         "Set PYTHON in the job's environment, e.g. PYTHON=python3.12" >&2
    exit 2
fi

# The pollers file, as an absolute path: never the default inside the virtualenv's site-packages.
pollers_file="${CHANGETRACKER_POLLERS_FILE:-}"
if [ -z "$pollers_file" ] && [ -f ci/pollers.toml ]; then
    pollers_file=ci/pollers.toml
fi
if [ -n "$pollers_file" ]; then
    if [ ! -f "$pollers_file" ]; then
        echo "nightly-poll: pollers file $pollers_file does not exist (CHANGETRACKER_POLLERS_FILE)" >&2
        exit 2
    fi
    CHANGETRACKER_POLLERS_FILE="$(cd "$(dirname "$pollers_file")" && pwd)/$(basename "$pollers_file")"
    export CHANGETRACKER_POLLERS_FILE
    echo "nightly-poll: pollers file $CHANGETRACKER_POLLERS_FILE"
else
    unset CHANGETRACKER_POLLERS_FILE
    echo "nightly-poll: no pollers file: polling the Jenkins at ${CHANGETRACKER_JENKINS_URL:-(none)} only"
fi

# Extra secrets for the pollers file: NAME=value lines, exported as they are (never echoed, never evaluated).
if [ -n "${CHANGETRACKER_POLLER_SECRETS:-}" ]; then
    line_number=0
    names=()
    while IFS= read -r line || [ -n "$line" ]; do
        line_number=$((line_number + 1))
        line="${line%$'\r'}"
        case "$line" in '' | '#'*) continue ;; esac
        name="${line%%=*}"
        if [ "$name" = "$line" ] || ! [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            echo "nightly-poll: poller secrets line $line_number is not NAME=value" >&2
            exit 2
        fi
        case "$name" in
            PATH | HOME | IFS | ENV | BASH_ENV | LD_* | PYTHON* | CHANGETRACKER_*)
                echo "nightly-poll: poller secrets line $line_number sets $name, which the job sets itself" >&2
                exit 2 ;;
        esac
        export "$name=${line#*=}"
        names+=("$name")
    done < "$CHANGETRACKER_POLLER_SECRETS"
    echo "nightly-poll: poller secrets: ${names[*]:-(none)}"
fi

venv="${CHANGETRACKER_VENV:-.venv}"

echo "nightly-poll: installing Change Tracker into $venv"
"$python" -m venv "$venv"
# A project directory is always rebuilt and reinstalled; dependencies only when their ranges ask for it.
"$venv/bin/pip" install --quiet --disable-pip-version-check .

echo "nightly-poll: polling, pushing to $CHANGETRACKER_URL"
status=0
"$venv/bin/changetracker" poll all --push "$CHANGETRACKER_URL" --output "$summary" || status=$?
if [ "$status" -ne 0 ]; then
    echo "nightly-poll: 'changetracker poll all' failed (exit $status): the poller's error is above" >&2
fi
exit "$status"
