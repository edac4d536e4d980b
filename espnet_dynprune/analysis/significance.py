"""Paired bootstrap significance of a system against a baseline on the same test set.

BLEU: sacrebleu's own paired bootstrap resampling (``PairedTest(test_type="bs")``, Koehn 2004, as
Moses' ``bootstrap-hypothesis-difference-significance.pl``): the p-value of the difference and the
95% interval of the system's score. WER: the same test over utterances on word-level edit counts
(after the scoring's WER normalisation), which also gives the 95% interval of the difference.
Both draw ``samples`` resamples of the test set's utterances with a fixed seed (sacrebleu's
``SACREBLEU_SEED`` default 12345), so a page regenerates identically. The p-value is sacrebleu's
(multeval's): (1 + resamples whose centred difference exceeds the observed one) / (1 + resamples),
which is small for two identical outputs; :func:`significant` never marks a zero difference. That
test and the percentile interval can disagree where few utterances differ (p < 0.05 beside an
interval from -1.6 to +16): a WER difference counts as significant only where both say so, so no
starred cell shows an interval that holds zero.
"""

from __future__ import annotations

from typing import Dict, Sequence, Tuple

import jiwer
import numpy as np
import sacrebleu
from sacrebleu.significance import PairedTest

from espnet_dynprune.analysis.scoring import normalise_for_wer

SEED = 12345
IDENTICAL = "identical"  # a comparison of two systems with the same hypotheses
SAMPLES = 1000


ALPHA = 0.05


def _p_value(sample_diffs: np.ndarray, observed: float) -> float:
    """As sacrebleu: how often the centred resampled |difference| exceeds the observed one."""
    centred = sample_diffs - sample_diffs.mean()
    return float((np.sum(centred > observed) + 1) / (len(centred) + 1))


def significant(result: Dict[str, float], alpha: float = ALPHA) -> bool:
    """A non-zero difference with p < ``alpha`` and, where it has one, a 95% interval without zero."""
    excludes_zero = "ci_low" not in result or result["ci_low"] > 0 or result["ci_high"] < 0
    return result["diff"] != 0 and result["p_value"] < alpha and excludes_zero


def word_errors(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """(N, 2): word errors and reference words per utterance, normalised as the WER is."""
    rows = []
    for ref, hyp in zip(refs, hyps):
        ref, hyp = normalise_for_wer(ref), normalise_for_wer(hyp)
        out = jiwer.process_words(ref, hyp)
        rows.append((out.substitutions + out.deletions + out.insertions, out.hits + out.substitutions + out.deletions))
    return np.asarray(rows, dtype=np.float64)


def paired_wer(refs: Sequence[str], baseline: Sequence[str], system: Sequence[str],
               samples: int = SAMPLES, seed: int = SEED) -> Dict[str, float]:
    """WER (%) of both, the difference system - baseline, its 95% interval and p-value."""
    base, sys = word_errors(refs, baseline), word_errors(refs, system)
    wer_base = 100 * base[:, 0].sum() / base[:, 1].sum()
    wer_sys = 100 * sys[:, 0].sum() / sys[:, 1].sum()
    idx = np.random.default_rng(seed).choice(len(refs), size=(samples, len(refs)), replace=True)
    words = base[idx, 1].sum(1)  # the same reference words for both
    diffs = 100 * (sys[idx, 0].sum(1) - base[idx, 0].sum(1)) / words
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"baseline": wer_base, "system": wer_sys, "diff": wer_sys - wer_base,
            "ci_low": float(low), "ci_high": float(high), "p_value": _p_value(np.abs(diffs), abs(wer_sys - wer_base))}


def paired_bleu(refs: Sequence[str], baseline: Sequence[str], system: Sequence[str],
                samples: int = SAMPLES) -> Dict[str, float]:
    """sacrebleu's paired bootstrap: both BLEUs, the difference, its p-value and the system's
    95% interval (sacrebleu reports the interval of the score, not of the difference)."""
    test = PairedTest([("baseline", list(baseline)), ("system", list(system))], {"BLEU": sacrebleu.metrics.BLEU()},
                      references=[list(refs)], test_type="bs", n_samples=samples)
    _, scores = test()
    base, sys = scores["BLEU"]
    return {"baseline": base.score, "system": sys.score, "diff": sys.score - base.score,
            "system_mean": sys.mean, "system_ci": sys.ci, "p_value": sys.p_value}


def paired_test(task: str, refs: Sequence[str], baseline: Sequence[str], system: Sequence[str]) -> Dict[str, object]:
    """``system`` against ``baseline``: :func:`paired_wer` for ``asr``, else :func:`paired_bleu`, with the
    ``metric``; ``{"metric": IDENTICAL}`` when the hypotheses are the same (no test: sacrebleu's
    p-value is small for two identical outputs)."""
    if list(baseline) == list(system):
        return {"metric": IDENTICAL}
    if task == "asr":
        return {"metric": "WER", **paired_wer(refs, baseline, system)}
    return {"metric": "BLEU", **paired_bleu(refs, baseline, system)}


def wer_interval(refs: Sequence[str], hyps: Sequence[str], samples: int = SAMPLES, seed: int = SEED) -> Tuple[float, float]:
    """The 95% bootstrap interval of one system's WER (%), resampling utterances."""
    errors = word_errors(refs, hyps)
    idx = np.random.default_rng(seed).choice(len(refs), size=(samples, len(refs)), replace=True)
    wers = 100 * errors[idx, 0].sum(1) / np.maximum(errors[idx, 1].sum(1), 1)
    low, high = np.percentile(wers, [2.5, 97.5])
    return float(low), float(high)


def bleu_interval(refs: Sequence[str], hyps: Sequence[str], samples: int = SAMPLES) -> Tuple[float, float]:
    """The 95% bootstrap interval of one system's BLEU: sacrebleu's (mean ± its ``ci``)."""
    result = paired_bleu(refs, hyps, hyps, samples)
    return float(result["system_mean"] - result["system_ci"]), float(result["system_mean"] + result["system_ci"])
