"""Snapshots: a poller (or anything else that observes) submits what it saw; the service diffs it."""
from flask import Blueprint, current_app, g

from app import config
from app.api.bodies import json_body
from app.api.openapi import doc
from app.polling import snapshots

bp = Blueprint("snapshots", __name__)


@bp.post("/snapshots")
@doc("Submit a snapshot", body=snapshots.SnapshotCreateSchema, response=snapshots.SnapshotResultSchema,
     description="Stores what a collector observed under a key and compares it with the key's previous snapshot. "
                 "Each meaningful change becomes a poller event (agent_config, plugin_update, jenkins_core, "
                 "docker_image or package_update by collector) with before/after `changes`; formatting-only "
                 "differences, runtime state and redacted secrets (`********`) are not changes. The first snapshot "
                 "of a key is a baseline (no events); one older than the key's newest is ignored (`stale`). "
                 "Submitting the same observation again records nothing, so retries are safe. Content by "
                 "collector: jenkins_agent — a parsed config.xml (labels, executors, mode, launcher, tools, env, …) "
                 "or `config_xml` to parse here; jenkins_nodes — `agents`; jenkins_plugins — `core`, `plugins` "
                 "{name: {version, enabled, active}}; docker_image — `digest`; package — `version`.")
def submit_snapshot():
    result = snapshots.submit_payload(json_body(), actor=g.actor, history=current_app.config["SNAPSHOT_HISTORY"],
                                      dedupe_window=config.dedupe_window(current_app.config))
    return snapshots.SnapshotResultSchema().dump(result)
