#!/usr/bin/env bash
# The nightly poller job's work (Jenkinsfile, stage "Poll"), kept here so that it can be run and tested outside
# Jenkins: install Change Tracker into a virtualenv, run every poller once, push what they observed to the tracker
# (which records what changed) and write a JSON summary of what each poller saw and changed.
#
#   CHANGE_TRACKER_URL           the tracker to push to (required)
#   CHANGETRACKER_TOKEN          its API token, record scope; read by the changetracker command from the environment,
#                                never passed on the command line (CHANGE_TRACKER_TOKEN is accepted too)
#   CHANGETRACKER_JENKINS_URL    the Jenkins to poll (default: JENKINS_URL, the controller running this job)
#   CHANGETRACKER_JENKINS_USER   its API user and token
#   CHANGETRACKER_JENKINS_TOKEN
#   CHANGETRACKER_VENV           the virtualenv (default: .venv in the workspace, kept between runs)
#   POLL_SUMMARY                 the summary file (default: poll-summary.json, archived by the job)
#
# Exit status: the poll command's, 1 when a poller failed; its error is on stderr, so in the build log.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CHANGE_TRACKER_URL:?set CHANGE_TRACKER_URL to the tracker, e.g. https://changes.example.com}"
export CHANGETRACKER_TOKEN="${CHANGETRACKER_TOKEN:-${CHANGE_TRACKER_TOKEN:-}}"
if [ -z "$CHANGETRACKER_TOKEN" ]; then
    echo "nightly-poll: no tracker token: bind the 'change-tracker-token' credential to CHANGETRACKER_TOKEN" >&2
    exit 2
fi
export CHANGETRACKER_JENKINS_URL="${CHANGETRACKER_JENKINS_URL:-${JENKINS_URL:-}}"
venv="${CHANGETRACKER_VENV:-.venv}"
summary="${POLL_SUMMARY:-poll-summary.json}"
rm -f "$summary"  # a summary left by an earlier run must not be archived as this one's

echo "nightly-poll: installing Change Tracker into $venv"
python3 -m venv "$venv"
# A project directory is always rebuilt and reinstalled; dependencies only when their ranges ask for it.
"$venv/bin/pip" install --quiet --disable-pip-version-check .

echo "nightly-poll: polling, pushing to $CHANGE_TRACKER_URL"
status=0
"$venv/bin/changetracker" poll all --push "$CHANGE_TRACKER_URL" --output "$summary" || status=$?
if [ "$status" -ne 0 ]; then
    echo "nightly-poll: 'changetracker poll all' failed (exit $status): the poller's error is above" >&2
fi
exit "$status"
