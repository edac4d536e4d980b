"""Rows of the paper's tables from raw results: one per experiment x decoding (gate pattern).

A row holds the experiment's grid metadata (table, method, part, target sparsity, data setup), the
gate pattern decoded with (``predicted``, ``most_frequent``, ``on``), each test set's main metric
(WER for ASR, BLEU for ST) and the means over test sets of time, GFLOPs, realised sparsity (of the
gates; of the weights for magnitude pruning) and model size. Baselines (``part: none``) belong to
every table of their data setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

BASELINE_PART = "none"
DEFAULT_DATA = "epst"  # the grid's default data setup
EARLIER_PASS = "an undated earlier pass"  # timing entries written before passes were dated
GATES_ORDER = ("on", "predicted", "most_frequent")  # a table lists a run's decodes in this order


@dataclass
class Row:
    experiment: str
    table: str
    method: str
    part: str
    data: str
    target: Optional[float]
    gates: str
    scores: Dict[str, float]  # test set -> WER (asr) or BLEU (st)
    tasks: Dict[str, str]  # test set -> "asr" / "st_eng"
    languages: Dict[str, str]
    seconds_per_utt: float  # as the grid decoded: beside another job on the machine
    amortised: bool  # seconds_per_utt is a batch's time shared out over its utterances
    clean_seconds_per_utt: Optional[float]  # recipe.timing: a subset, nothing else running
    timing_pass: Optional[str]  # when recipe.timing measured it (times compare within one pass)
    timed_same_hypotheses: Optional[float]  # below 1: the timed model is not the one scored (re-trained)
    gflops: float  # output tokens + 1 steps as this decoder runs them
    gflops_reprojected: Optional[float]  # the same steps as a stock decoder runs them (the papers' count)
    gflops_as_run: Optional[float]
    enc_sparsity: Optional[float]
    dec_sparsity: Optional[float]
    params_m: float
    wall_minutes: Optional[float]
    resumed: bool
    enc_weight_sparsity: Optional[float] = None  # magnitude pruning: fraction of the Linear weights zero
    dec_weight_sparsity: Optional[float] = None
    sets: Dict[str, dict] = field(repr=False, default_factory=dict)  # test set -> raw entry

    @property
    def is_baseline(self) -> bool:
        return self.part == BASELINE_PART

    @property
    def label(self) -> str:
        target = "" if self.target is None else f" {self.target}"
        gates = "" if self.gates in ("predicted", "on") else f", {self.gates.replace('_', ' ')} pattern"
        return f"{self.method}{target}{gates}"

    def mean_score(self, task: str) -> Optional[float]:
        """Mean WER (``asr``) or BLEU (``st``) over the row's test sets of that kind."""
        values = [s for t, s in self.scores.items() if (self.tasks[t] == "asr") == (task == "asr")]
        return sum(values) / len(values) if values else None


def timing_passes(rows: Sequence[Row]) -> List[str]:
    """The timing passes of ``rows``, oldest first (the undated one before every dated one)."""
    return sorted({r.timing_pass for r in rows if r.timing_pass}, key=lambda p: (p != EARLIER_PASS, p))


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def gates_of(decode: str) -> str:
    """``decode_beam5_gates_most_frequent`` -> ``most_frequent``."""
    return decode.split("_gates_", 1)[1] if "_gates_" in decode else decode


def main_metric(entry: dict) -> float:
    return entry["metrics"]["wer" if entry["task"] == "asr" else "bleu"]


def rows_of(record: dict, timing: Optional[dict] = None) -> List[Row]:
    """The rows of one raw result; ``timing`` is ``timing.json``'s entry of the experiment."""
    meta = record["meta"]
    timed = (timing or {}).get("decodes", {}) if (timing or {}).get("spec_hash") == meta["spec_hash"] else {}
    rows = []
    for decode, sets in sorted(record["decodes"].items()):
        if not sets:
            continue
        entries = list(sets.values())
        clean = timed.get(decode)  # this decoding's entry of the clean timing pass, if it was timed
        rows.append(Row(
            experiment=meta["name"], table=meta["table"], method=meta["method"], part=meta["part"],
            data=meta.get("data", DEFAULT_DATA), target=meta.get("sparsity_target"), gates=gates_of(decode),
            scores={t: main_metric(e) for t, e in sets.items()}, tasks={t: e["task"] for t, e in sets.items()},
            languages={t: e["language"] for t, e in sets.items()},
            seconds_per_utt=_mean([e["seconds_per_utt"] for e in entries]),
            amortised=any((e.get("seconds_per_utt_is") or "").startswith("amortised") for e in entries),
            clean_seconds_per_utt=clean.get("seconds_per_utt") if clean is not None else None,
            timing_pass=clean.get("measured", EARLIER_PASS) if clean is not None else None,
            timed_same_hypotheses=clean.get("same_hypotheses") if clean is not None else None,
            gflops=_mean([e["gflops"]["total"] for e in entries]),
            gflops_reprojected=_mean([(e.get("gflops_reprojected") or {}).get("total") for e in entries]),
            gflops_as_run=_mean([(e["gflops_as_run"] or {}).get("total") for e in entries]),
            enc_sparsity=_mean([e["sparsity"].get("encoder") for e in entries]),
            dec_sparsity=_mean([e["sparsity"].get("decoder") for e in entries]),
            params_m=entries[0]["model"]["parameters"] / 1e6,
            wall_minutes=meta["wall_seconds"] / 60 if meta.get("wall_seconds") is not None else None,
            resumed=bool(meta.get("resumed")),
            enc_weight_sparsity=_mean([(e.get("weight_sparsity") or {}).get("encoder") for e in entries]),
            dec_weight_sparsity=_mean([(e.get("weight_sparsity") or {}).get("decoder") for e in entries]),
            sets=dict(sets),
        ))
    return rows


def all_rows(records: Sequence[dict], timing: Optional[dict] = None) -> List[Row]:
    runs = (timing or {}).get("runs", {})
    return [row for record in records for row in rows_of(record, runs.get(record["meta"]["name"]))]


def baseline(rows: Sequence[Row], data: str, method_prefix: str = "dense") -> Optional[Row]:
    """The dense fine-tuning row of a data setup (what every difference is measured against)."""
    found = [r for r in rows if r.is_baseline and r.data == data and r.method.startswith(method_prefix)]
    return found[0] if found else None


def without(rows: Sequence[Row], row: Row) -> Optional[Row]:
    """The same experiment without its setup's extra data: ``<setup>_<name>`` -> ``<name>`` of the
    default setup, decoded with the same gates (None if there is none)."""
    name = row.experiment.removeprefix(f"{row.data}_")
    found = [r for r in rows if r.experiment == name and r.data == DEFAULT_DATA and r.gates == row.gates]
    return found[0] if found and name != row.experiment else None


def joint_model(rows: Sequence[Row], row: Row) -> Optional[Row]:
    """What an ablation changes: the context-aware joint model (table ``dynamic``, both parts) of
    the same data setup and target, decoded with the same gates (None if it is not run yet)."""
    found = [r for r in rows if r.table == "dynamic" and r.part == "both" and r.data == row.data
             and r.target == row.target and r.gates == row.gates and r.experiment != row.experiment]
    return found[0] if found else None


def table_rows(rows: Sequence[Row], table: str) -> List[Row]:
    """Baselines of the table's data setups first, then its experiments by method and target."""
    own = [r for r in rows if r.table == table and not r.is_baseline]
    setups = {r.data for r in rows if r.table == table}
    base = sorted((r for r in rows if r.is_baseline and r.data in setups),
                  key=lambda r: (r.data, not r.method.startswith("pretrained"), r.method))  # no fine-tuning first
    own.sort(key=lambda r: (r.method, r.target if r.target is not None else -1,
                            GATES_ORDER.index(r.gates) if r.gates in GATES_ORDER else len(GATES_ORDER), r.gates))
    return base + own


def test_set_order(rows: Sequence[Row]) -> List[str]:
    """Test sets by language, ASR before ST."""
    sets = {t: (r.languages[t], r.tasks[t]) for r in rows for t in r.scores}
    return sorted(sets, key=lambda t: (sets[t][0], sets[t][1] != "asr", t))


def column_name(row_sets: Sequence[Row], test_set: str) -> str:
    for r in row_sets:
        if test_set in r.tasks:
            task, lang = r.tasks[test_set], r.languages[test_set]
            return f"{lang} WER" if task == "asr" else f"{lang}→{task.split('_', 1)[-1]} BLEU"
    return test_set
