"""The labelled incidents of bench/incidents.py, on the suite's database (SQLite, and PostgreSQL in CI): the real
cause first in at least 85% of them, in the top 3 in at least 95%, never absent. `make bench` prints the same
figures and every miss with its ranked list."""
from bench import suspects
from tests.conftest import connected


def test_the_real_cause_comes_first(app):
    with connected(app):
        results = suspects.evaluate()
    top1, top3, absent = suspects.accuracy(results)
    report = "\n".join(suspects.misses(results))
    assert len(results) >= 25
    assert absent == [], report
    assert top1 >= suspects.TOP_1 and top3 >= suspects.TOP_3, report
