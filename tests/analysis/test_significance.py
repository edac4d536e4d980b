"""Paired bootstrap: WER differences with their interval, BLEU through sacrebleu's own test."""

from __future__ import annotations

import pytest

from espnet_dynprune.analysis import significance

REFS = [f"the house number {i} is red and the door is open" for i in range(40)]


def test_identical_systems_differ_by_nothing_and_not_significantly():
    hyps = [r.replace("red", "blue") if i % 3 == 0 else r for i, r in enumerate(REFS)]
    wer = significance.paired_wer(REFS, hyps, hyps)
    assert wer["diff"] == 0.0 and wer["ci_low"] == wer["ci_high"] == 0.0 and not significance.significant(wer)
    bleu = significance.paired_bleu(REFS, hyps, hyps)
    assert bleu["diff"] == 0.0 and not significance.significant(bleu)


def test_a_much_worse_system_is_significantly_worse_and_its_interval_holds_the_difference():
    worse = [" ".join(r.split()[:5]) for r in REFS]  # every hypothesis truncated
    wer = significance.paired_wer(REFS, REFS, worse)
    assert wer["baseline"] == 0.0 and wer["diff"] == pytest.approx(wer["system"]) and wer["diff"] > 40
    assert wer["ci_low"] <= wer["diff"] <= wer["ci_high"] and significance.significant(wer)
    bleu = significance.paired_bleu(REFS, REFS, worse)
    assert bleu["diff"] < -20 and significance.significant(bleu)


def test_the_resampling_is_seeded():
    hyps = [r.replace("open", "shut") if i % 2 else r for i, r in enumerate(REFS)]
    assert significance.paired_wer(REFS, REFS, hyps) == significance.paired_wer(REFS, REFS, hyps)


def test_a_wer_difference_whose_interval_holds_zero_is_not_starred_whatever_its_p_value():
    assert not significance.significant({"diff": 7.5, "p_value": 0.01, "ci_low": -1.56, "ci_high": 16.36})
    assert not significance.significant({"diff": 5.06, "p_value": 0.01, "ci_low": 0.0, "ci_high": 10.59})
    assert significance.significant({"diff": 5.06, "p_value": 0.01, "ci_low": 0.5, "ci_high": 10.59})
    assert significance.significant({"diff": -3.0, "p_value": 0.01, "ci_low": -6.0, "ci_high": -0.2})
