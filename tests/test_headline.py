"""The headline's cost line reports a time budget as summary.json records it."""

from results.headline import budget_text


def test_budget_use_and_overrun_are_spelled_out():
    text = budget_text(
        {"budget_s": 1200, "used_s": 1204.4, "overrun_s": 4.4, "stopped_trials": 2,
         "refused_starts": 1}
    )  # fmt: skip
    assert text == (
        "search 20 min 04 s of a 20 min 00 s budget (4 s over; 2 trials stopped at an epoch "
        "boundary)"
    )
    within = budget_text(
        {"budget_s": 60, "used_s": 59.6, "overrun_s": 0.0, "stopped_trials": 0,
         "refused_starts": 3}
    )  # fmt: skip
    assert within == "search 1 min 00 s of a 1 min 00 s budget (within it)"
    one = budget_text(
        {"budget_s": 1200, "used_s": 1209.0, "overrun_s": 9.0, "stopped_trials": 1,
         "refused_starts": 0}
    )  # fmt: skip
    assert one.endswith("(9 s over; 1 trial stopped at an epoch boundary)")
