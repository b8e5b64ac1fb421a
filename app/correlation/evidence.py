"""Why a change is a suspect of a failed build, and how strongly: the rules of /api/v1/suspects and their weights.

A suspect's score is 100 × the product of the weights of its evidence. Each piece of evidence is one reason with its
weight: above 1 it makes the change more likely the cause, below 1 less likely, 1 only explains. Every change is
scored on its own evidence, so how many other events there are never moves its score: eight notes are eight weak
suspects, not one strong one. docs/suspects.md ("How suspects are ranked") states these rules in words; change them
here, in one place.
"""
from datetime import datetime, timedelta

from app.correlation.windows import describe_span

# -- the weights ------------------------------------------------------------------------------------------------------

# How the change reaches the failed build.
SCOPE = {
    "same_agent": 1.0,          # it names the build's agent
    "used_tool": 1.0,           # it names, on no agent, a tool or toolchain the build says it uses (tool=)
    "used_toolchain": 0.9,      # ... a toolchain containing such a tool, or a tool of such a toolchain
    "agent_tool": 0.9,          # ... a tool or toolchain the agent's own changes in the period name
    "agent_toolchain": 0.8,     # ... a toolchain containing such a tool, or a tool of such a toolchain
    "controller": 0.8,          # it names no agent and changes what every build goes through: core, plugins, outages
    "fleet_wide": 0.5,          # it names no agent, and nothing else ties it to this build
    "other_agents": 0.35,       # a tool or toolchain the build says it uses, changed on other agents only
}
# What kind of change it is: what builds execute (tools, toolchains, images, packages, the controller's core and
# plugins) and the shared services they need are strong; an agent's configuration is mostly scheduling (labels,
# executors) and a little less; deployments and rollbacks are medium; notes are observations, not changes.
STRONG, AGENT, MEDIUM, WEAK = 1.0, 0.8, 0.6, 0.15
KIND = {
    "tool_update": STRONG, "toolchain_change": STRONG, "docker_image": STRONG, "package_update": STRONG,
    "plugin_update": STRONG, "jenkins_core": STRONG, "outage": STRONG, "maintenance": STRONG,
    "agent_config": AGENT,
    "deployment": MEDIUM, "rollback": MEDIUM,
    "note": WEAK,
}
# What whoever recorded it thought of it: each level a step. Pipelines and pollers record info unless told
# otherwise, so the low end is gentler than the high one; high and critical are someone's word that it matters.
SEVERITY = {"info": 0.7, "low": 0.85, "medium": 1.0, "high": 1.3, "critical": 1.6}
# Closer to the failure is likelier: the weight halves every RECENCY_HALF_LIFE down to RECENCY_FLOOR, never to 0
# (a decay, not a cliff): a change made yesterday still weighs most of what one made this morning does, since
# many jobs run once a night. An interval counts from its end.
RECENCY_HALF_LIFE = timedelta(hours=48)
RECENCY_FLOOR = 0.3
ONGOING = 2.0               # an interval (an outage, a maintenance, a change in progress) still going on at the failure
UNPLANNED = 1.5             # detected by a poller or webhook with nobody having announced it (app.ledger.unplanned)
REVERTED = 0.25             # a rollback undid it before the failure
BUILT_SINCE = 0.2           # the same job built successfully after it began
THIS_BUILD = 1.0            # recorded by the failed build itself: said, not weighed

# Changes to the controller and to shared services reach every build, on whatever agent.
EVERY_BUILD = {"jenkins_core": "a Jenkins core update", "plugin_update": "a plugin update",
               "outage": "an outage of a shared service", "maintenance": "maintenance of a shared service"}
INTERVAL_KINDS = ("outage", "maintenance")
KIND_WORDS = {STRONG: "strong change", AGENT: "strong change", MEDIUM: "medium change", WEAK: "weak evidence"}
SCOPE_WORDS = {"same_agent": "same agent", "used_tool": "a tool it uses", "used_toolchain": "a toolchain it uses",
               "agent_tool": "a tool its agent uses", "agent_toolchain": "a toolchain its agent uses",
               "controller": "every build", "fleet_wide": "fleet-wide", "other_agents": "other agents"}
# The rank the answer has always carried, from the scope.
RANK_OF_SCOPE = dict({scope: "same_tool" for scope in SCOPE}, same_agent="same_agent", controller="fleet_wide",
                     fleet_wide="fleet_wide")


def fleet_relation(kind):
    """(scope, reason) of a change that names no agent and no tool or toolchain of the build."""
    if kind in EVERY_BUILD:
        return "controller", "names no agent: %s reaches every build" % EVERY_BUILD[kind]
    return "fleet_wide", "fleet-wide: names no agent"


def assess(suspect):
    """The evidence about one suspect: [{"rule", "reason", "label", "weight"}], in the order a reader weighs it.

    ``suspect`` holds ``scope`` (a SCOPE key) and ``relations`` (its reasons, first one first), ``type``,
    ``severity``, ``occurred_at``, ``ended_at``, ``unplanned`` and ``before`` (the failure; times naive UTC),
    ``since`` (the period's start), ``last_success`` (the job's last success, or None), ``reverted_by``
    ([(id, title)] of rollbacks before the failure), ``this_build`` and ``rolls_back`` (a reason, or None).
    """
    evidence = [_piece("scope", reason, SCOPE_WORDS[suspect["scope"]] if i == 0 else "",
                       SCOPE[suspect["scope"]] if i == 0 else 1.0)
                for i, reason in enumerate(suspect["relations"])]
    kind = KIND.get(suspect["type"], MEDIUM)
    words = suspect["type"].replace("_", " ")
    evidence.append(_piece("kind", "%s: %s" % (KIND_WORDS[kind], words), KIND_WORDS[kind] if kind != WEAK else "a note",
                           kind))
    severity = SEVERITY.get(suspect["severity"], 1.0)
    evidence.append(_piece("severity", "severity %s" % suspect["severity"],
                           "%s severity" % suspect["severity"] if severity != 1.0 else "", severity))
    evidence.extend(_timing(suspect))
    if suspect["unplanned"]:
        evidence.append(_piece("unplanned", "unplanned: detected, with no intent recorded before it", "unplanned",
                               UNPLANNED))
    for rollback_id, title in suspect["reverted_by"]:
        evidence.append(_piece("reverted", 'reverted by #%d "%s" before the failure' % (rollback_id, title),
                               "reverted before the failure", REVERTED))
    if _built_since(suspect["occurred_at"], suspect["last_success"]):
        evidence.append(_piece("built_since", "the job built successfully after it began (%s)"
                               % _iso(suspect["last_success"]), "built successfully since", BUILT_SINCE))
    if suspect["this_build"]:
        evidence.append(_piece("this_build", "recorded by this build", "recorded by this build", THIS_BUILD))
    if suspect["rolls_back"]:
        evidence.append(_piece("rolls_back", suspect["rolls_back"], "", 1.0))
    return evidence


def score(evidence):
    """100 × the product of the weights."""
    product = 100.0
    for piece in evidence:
        product *= piece["weight"]
    return round(product, 2)


def scorer(before, last_success):
    """A function (scope, kind, severity, occurred_at, ended_at, unplanned, reverted) → ``score(assess(...))`` for
    a failure at ``before``, without building the evidence: the same weights, for ranking thousands of candidates
    (``reverted``: how many rollbacks undid it before the failure)."""
    bases = {}
    floor, fade, half_life = RECENCY_FLOOR, 1 - RECENCY_FLOOR, RECENCY_HALF_LIFE.total_seconds()

    def score_of(scope, kind, severity, occurred_at, ended_at, unplanned, reverted):
        base = bases.get((scope, kind, severity))
        if base is None:
            base = bases[(scope, kind, severity)] = 100.0 * SCOPE[scope] * KIND.get(kind, MEDIUM) * SEVERITY.get(
                severity, 1.0)
        if ended_at is None and kind not in INTERVAL_KINDS:  # most candidates: a change at one moment
            product = base * round(floor + fade * 0.5 ** (max((before - occurred_at).total_seconds(), 0) / half_life), 3)
        else:
            product = base
            for weight in _timing_weights(kind, occurred_at, ended_at, before):
                product *= weight
        if unplanned:
            product *= UNPLANNED
        if reverted:
            product *= REVERTED ** reverted
        if last_success is not None and occurred_at < last_success:
            product *= BUILT_SINCE
        return round(product, 2)

    return score_of


def bound(before, boost=None):
    """A function (type, severity, unplanned), occurred_at → the most a change at one moment (no end) of that kind
    can score at a failure at ``before``: its score without a rollback or a last success, at the scope its kind has
    when it names no agent, or at ``boost`` (the closest scope) when it might name a tool in use."""
    bases = {}
    floor, fade, half_life = RECENCY_FLOOR, 1 - RECENCY_FLOOR, RECENCY_HALF_LIFE.total_seconds()

    def most(key, occurred_at):
        base = bases.get(key)
        if base is None:
            kind, severity, unplanned = key
            scope = boost if boost is not None else SCOPE[fleet_relation(kind)[0]]
            base = bases[key] = (100.0 * scope * KIND.get(kind, MEDIUM) * SEVERITY.get(severity, 1.0)
                                 * (UNPLANNED if unplanned else 1.0))
        if isinstance(occurred_at, str):
            occurred_at = datetime.fromisoformat(occurred_at)
        return base * round(floor + fade * 0.5 ** (max((before - occurred_at).total_seconds(), 0) / half_life), 3)

    return most


def summary(evidence):
    """The evidence in plain words, as it reads first: "same agent, tool update, 3h before, unplanned"."""
    return ", ".join(piece["label"] for piece in evidence if piece["label"])


def recency(age):
    """The weight of a change ``age`` before the failure (an interval: its end), to 3 decimals."""
    halves = max(age, timedelta(0)) / RECENCY_HALF_LIFE
    return round(RECENCY_FLOOR + (1 - RECENCY_FLOOR) * 0.5 ** halves, 3)


def is_ongoing(kind, occurred_at, ended_at, before):
    """Going on at the failure: an interval that began before it and ends after it, or an outage or maintenance
    with no end recorded yet."""
    if occurred_at > before:
        return False
    return ended_at >= before if ended_at is not None else kind in INTERVAL_KINDS


def _timing_weights(kind, occurred_at, ended_at, before):
    """The weights _timing gives: ongoing (and, with no end recorded, the age of its start), or recency."""
    if is_ongoing(kind, occurred_at, ended_at, before):
        return (ONGOING,) if ended_at is not None else (ONGOING, recency(before - occurred_at))
    return (recency(before - (ended_at if ended_at is not None else occurred_at)),)


def _timing(suspect):
    kind, before, since = suspect["type"], suspect["before"], suspect["since"]
    occurred_at, ended_at = suspect["occurred_at"], suspect["ended_at"]
    weights = _timing_weights(kind, occurred_at, ended_at, before)
    started = describe_span((before - occurred_at).total_seconds())
    if is_ongoing(kind, occurred_at, ended_at, before):
        pieces = [_piece("ongoing", "began before %s and was still going on at the failure" % _iso(since)
                         if occurred_at < since else "going on at the failure, since %s before it" % started,
                         "going on at the failure", weights[0])]
        if ended_at is None:  # nobody closed it: forgotten ones fade
            pieces.append(_piece("recency", "no end recorded; began %s before the failure" % started, "", weights[1]))
        return pieces
    ago = describe_span((before - (ended_at if ended_at is not None else occurred_at)).total_seconds())
    if ended_at is None:
        return [_piece("recency", "%s before the failure" % ago, "%s before" % ago, weights[0])]
    reason = ("began before %s and lasted until %s" % (_iso(since), _iso(ended_at)) if occurred_at < since
              else "ended %s before the failure" % ago)
    return [_piece("recency", reason, "ended %s before" % ago, weights[0])]


def _built_since(occurred_at, last_success):
    return last_success is not None and occurred_at < last_success


def _piece(rule, reason, label, weight):
    return {"rule": rule, "reason": reason, "label": label, "weight": weight}


def _iso(moment):
    return moment.isoformat() + "+00:00"
