"""The one timer: rounds in turn, warm-ups untimed, medians and spread of the totals."""

import pytest

from espnet_dynprune.analysis.clock import Phases, now, round_robin


def test_candidates_run_in_turn_and_warm_up_rounds_are_not_kept():
    calls, seconds = [], iter(range(100))

    def run(name: str) -> dict:
        calls.append(name)
        return {"encoder": float(next(seconds)), "decoder": 1.0}

    logged = []
    timed = round_robin(["a", "b"], run, repeats=3, warmup=1, log=logged.append)
    assert calls == ["a", "b"] * 4  # each round runs every candidate once, in turn
    assert [r["encoder"] for r in timed["a"].rounds] == [2.0, 4.0, 6.0]  # round 0 (0 and 1) dropped
    assert logged[0] == "round 1/4 done (warm-up)" and logged[-1] == "round 4/4 done"


def test_summary_is_medians_per_phase_and_spread_of_the_totals():
    phases = Phases()
    for enc, dec in ((1.0, 2.0), (2.0, 2.0), (9.0, 1.0)):
        phases.add({"encoder": enc, "decoder": dec})
    s = phases.summary()
    assert (s["encoder_s"], s["decoder_s"]) == (2.0, 2.0)
    assert phases.totals() == [3.0, 4.0, 10.0]
    assert s["total_s"] == 4.0 and s["spread"] == pytest.approx((10.0 - 3.0) / 4.0)


def test_no_timed_round_is_refused():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        round_robin(["a"], lambda _: {"t": 1.0}, repeats=0)
    with pytest.raises(ValueError, match="no timed round"):
        Phases().summary()


def test_the_clock_moves_forward():
    assert now("cpu") <= now()
