"""The evidence rules of app/correlation/evidence.py: the fast scorer that ranks thousands of candidates gives the
score the shown evidence multiplies to, and the rules hold the properties the README promises."""
import itertools
from datetime import datetime, timedelta

import pytest

from app.correlation import evidence

BEFORE = datetime(2026, 11, 20, 12, 0)


def facts(**overrides):
    return dict({"scope": "same_agent", "relations": ["same agent linux-07"], "type": "tool_update",
                 "severity": "medium", "occurred_at": BEFORE - timedelta(hours=3), "ended_at": None,
                 "unplanned": False, "before": BEFORE, "since": BEFORE - timedelta(days=7), "last_success": None,
                 "reverted_by": [], "this_build": False, "rolls_back": None}, **overrides)


CASES = list(itertools.product(
    evidence.SCOPE, evidence.KIND, evidence.SEVERITY,
    [(timedelta(minutes=5), None), (timedelta(hours=30), None), (timedelta(days=8), timedelta(hours=2)),
     (timedelta(hours=3), timedelta(hours=-1)), (timedelta(days=3), None)],
    [False, True], [0, 2], [None, BEFORE - timedelta(hours=5)]))


@pytest.mark.parametrize("scope, kind, severity, times, unplanned, reverted, last_success", CASES[::113])
def test_the_fast_scorer_gives_the_score_of_the_shown_evidence(scope, kind, severity, times, unplanned, reverted,
                                                               last_success):
    age, ended = times
    occurred_at = BEFORE - age
    ended_at = None if ended is None else BEFORE - ended
    shown = evidence.assess(facts(scope=scope, type=kind, severity=severity, occurred_at=occurred_at,
                                  ended_at=ended_at, unplanned=unplanned, last_success=last_success,
                                  reverted_by=[(i, "rollback %d" % i) for i in range(reverted)]))
    fast = evidence.scorer(BEFORE, last_success)(scope, kind, severity, occurred_at, ended_at, unplanned, reverted)
    assert fast == evidence.score(shown)


def test_recency_halves_every_two_days_down_to_its_floor():
    assert evidence.recency(timedelta(0)) == 1.0
    assert evidence.recency(timedelta(hours=48)) == 0.65  # 0.3 + 0.7 / 2
    assert evidence.recency(timedelta(days=60)) == 0.3
    assert evidence.recency(timedelta(hours=-3)) == 1.0


def test_a_note_needs_every_boost_to_reach_a_plain_change():
    """The strongest note (critical, on the agent, going on at the failure) still weighs less than a medium change
    on the agent two days ago: eight notes are eight weak suspects."""
    note = evidence.score(evidence.assess(facts(type="note", severity="critical", ended_at=BEFORE + timedelta(1))))
    change = evidence.score(evidence.assess(facts(occurred_at=BEFORE - timedelta(days=2))))
    assert note < change


def test_the_summary_says_the_evidence_in_plain_words():
    pieces = evidence.assess(facts(unplanned=True, severity="high", type="agent_config"))
    assert evidence.summary(pieces) == "same agent, strong change, high severity, 3h before, unplanned"
