"""Errors alike, counted as one reason in a run's summary."""

from __future__ import annotations

from collections import Counter

from es_pandas._reasons import group_alike
from es_pandas._status import FAILED, OTHER_ERRORS, REASONS_KEPT, REJECTED, Summary, Tally


def test_errors_differing_in_their_values_alone_are_one_reason() -> None:
    reasons = Counter(
        {
            ("rejected", "column 'k': key is 6892 bytes, over the 4096-byte limit"): 1,
            ("rejected", "column 'k': key is 7047 bytes, over the 4096-byte limit"): 2,
            ("rejected", "column 'v': 'x0' is not an int"): 1,
            ("rejected", "column 'v': \"it's\" is not an int"): 1,
        }
    )
    assert group_alike(reasons) == [
        ("rejected", "column 'k': key is … bytes, over the 4096-byte limit", 3),
        ("rejected", "column 'v': … is not an int", 2),
    ]


def test_what_errors_alike_never_differ_in() -> None:
    reasons = Counter(
        {
            # the column a rejection names, and the status an answer had
            ("rejected", "column 'a': 1 is out of range"): 1,
            ("rejected", "column 'b': 2 is out of range"): 1,
            ("failed", "HTTP 500: unavailable"): 1,
            ("failed", "HTTP 503: unavailable"): 1,
            # the digits of a word, and the row's status
            ("rejected", "column 'v': not an int64"): 1,
            ("rejected", "column 'v': not an int32"): 1,
            ("failed", "column 'v': not an int32"): 1,
        }
    )
    assert [error for _, error, _ in group_alike(reasons)] == [error for _, error in reasons]


def test_the_most_rows_come_first_and_ties_keep_their_order() -> None:
    reasons = Counter({("failed", "b"): 1, ("failed", "a"): 1, ("rejected", "row 1 2"): 1})
    reasons["rejected", "row 1 3"] += 1
    assert group_alike(reasons) == [
        ("rejected", "row 1 …", 2),
        ("failed", "b", 1),
        ("failed", "a", 1),
    ]


def test_rows_past_the_errors_kept_count_under_one_alike_or_in_the_last_line() -> None:
    tally = Tally()
    # as many different errors as a run keeps, none alike (each names its own column)
    for i in range(REASONS_KEPT - 1):
        tally.note(REJECTED, f"column 'c{i}': null key")
    tally.note(FAILED, "HTTP 503: down for 5 s (retried 3 times)")
    # past them: alike, counted with it (the values that never differed kept); none
    # alike, among the other errors
    tally.note(FAILED, "HTTP 503: down for 5 s (retried 4 times)")
    tally.note(FAILED, "HTTP 500: internal")
    # bounded: past the errors kept, one entry per shape kept, and one per status
    assert len(tally.reasons) == REASONS_KEPT + 2
    summary = Summary(dict.fromkeys(("ok", "failed", "unknown", "rejected", "not_sent"), 0), 1.0)
    summary.reasons = tally.reasons
    lines = summary.why(top=1).splitlines()
    assert lines == [
        "most frequent errors:",
        "  2 failed: HTTP 503: down for 5 s (retried … times)",
        f"  and {REASONS_KEPT:,} more rows with other errors",
    ]
    assert tally.reasons["failed", OTHER_ERRORS] == 1
