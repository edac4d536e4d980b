"""Recipe stage 13 for Whisper: score every system's decoding, with intervals, speed and a table.

``python -m espnet_dynprune.recipe.whisper_results --decode_dir exp/whisper_base/decode
--test_dirs dump/raw/test_asterisk_* --output results/whisper_base.json``

For each test set and each system that :mod:`espnet_dynprune.recipe.whisper_decode` wrote: WER
and CER (ASR) or BLEU and chrF (ST) with :mod:`~espnet_dynprune.analysis.scoring`'s
normalisation, the 95% bootstrap interval of the score, the paired bootstrap test against the
first system (``espnet``: stock ESPnet; skipped where the hypotheses are the same, and how many
are is counted), and the decode speed (utterances per second, the median seconds of an utterance,
and the ratio of each to the first system's), all from the same run. Writes JSON and prints a markdown table.
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from espnet_dynprune.analysis.scoring import paired, read_hypotheses, read_references, score
from espnet_dynprune.analysis.significance import IDENTICAL, bleu_interval, paired_test, wer_interval
from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.owsm.symbols import parse_target

logger = logging.getLogger(__name__)


def _task(test_dir: Path) -> str:
    first = next(iter(read_map(test_dir / "text").items()))
    return parse_target(first[1], f"{test_dir / 'text'}: {first[0]}").task


def score_set(test_dir: Path, system_dirs: Mapping[str, Path]) -> Dict[str, Dict[str, object]]:
    """``system -> scores`` on one test set (``system_dirs``: name -> its decode dir); the first
    system is the baseline of the paired tests."""
    task = _task(test_dir)
    refs_all = read_references(test_dir / "text", task)
    out: Dict[str, Dict[str, object]] = {}
    base_hyps: Optional[List[str]] = None
    base_ids: List[str] = []
    base_speed = base_median = 0.0
    first_dir = next(iter(system_dirs.values()))
    for name, system_dir in system_dirs.items():
        decoded = system_dir / test_dir.name
        if not (decoded / ".done").is_file():
            logger.warning("%s: not decoded (no .done), left out", decoded)
            continue
        hyps_map = read_hypotheses(decoded / "text")
        refs = {utt: refs_all[utt] for utt in hyps_map if utt in refs_all}  # --max_utts decodes a subset
        ids, ref_list, hyps = paired(refs, hyps_map, test_dir / "text", decoded / "text")
        timing = json.loads((decoded / "timing.json").read_text(encoding="utf-8"))
        row: Dict[str, object] = {"task": task, "num_utts": len(ids), **score(task, hyps, ref_list, ids)}
        row["interval"] = wer_interval(ref_list, hyps) if task == "asr" else bleu_interval(ref_list, hyps)
        row["utts_per_second"] = timing["utts_per_second"]
        row["median_seconds"] = statistics.median(timing["per_utt_seconds"].values())
        row["espnet_capped"] = timing.get("espnet_capped", 0)
        row["batches_redone"] = timing.get("batches_redone", 0)
        if base_hyps is None:
            base_hyps, base_ids, base_speed, base_median = hyps, ids, timing["utts_per_second"], row["median_seconds"]
        else:
            if ids != base_ids:
                raise ValueError(f"{decoded}: other utterances than {first_dir / test_dir.name}")
            row["same_as_first"] = sum(a == b for a, b in zip(base_hyps, hyps))
            row["vs_first"] = paired_test(task, ref_list, base_hyps, hyps)
            row["speed_vs_first"] = timing["utts_per_second"] / base_speed
            row["median_speed_vs_first"] = base_median / row["median_seconds"]
        out[name] = row
    return out


def _versus(row: Dict[str, object]) -> str:
    """The difference to the first system, its p-value and how many hypotheses are the first's."""
    diff, same = row["vs_first"], f"{row['same_as_first']} of {row['num_utts']}"
    if diff.get("metric") == IDENTICAL:
        return f"identical hypotheses ({same})"
    return f"{diff['diff']:+.2f} (p {diff['p_value']:.3f}; {same} the same)"


def markdown(results: Dict[str, Dict[str, Dict[str, object]]]) -> str:
    """One row per test set and system: score [interval], difference to the first, speed."""
    lines = [
        "| test set | system | utts | WER or BLEU [95% interval] | vs first (p) | utt/s (vs first) "
        "| median s/utt (speed-up vs first) | ESPnet capped (batches redone) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for test, systems in results.items():
        for system, row in systems.items():
            metric = "wer" if row["task"] == "asr" else "bleu"
            low, high = row["interval"]
            versus = _versus(row) if "vs_first" in row else "-"
            speed = f"{row['speed_vs_first']:.2f}x" if "speed_vs_first" in row else "1x"
            median = f"{row['median_speed_vs_first']:.2f}x" if "median_speed_vs_first" in row else "1x"
            lines.append(
                f"| {test} | {system} | {row['num_utts']} | {metric.upper()} {row[metric]:.2f} [{low:.2f}, {high:.2f}] "
                f"| {versus} | {row['utts_per_second']:.3f} ({speed}) | {row['median_seconds']:.3f} ({median}) "
                f"| {row['espnet_capped']} ({row['batches_redone']}) |"
            )
    return "\n".join(lines) + "\n"


def system_dir(system: str) -> str:
    """The directory name a system's decodes are written under (``dynprune:8:whisper`` -> ``dynprune_8_whisper``)."""
    return system.replace(":", "_")


def collect(
    decode_dir: str, test_dirs: Sequence[str], systems: Sequence[str]
) -> Dict[str, Dict[str, Dict[str, object]]]:
    """Scores of every test set; ``systems`` are decode_dir's subdirs (or, with a ``/``, a system's
    decode dir elsewhere: another model's), the baseline first."""
    def named(system: str) -> tuple[str, Path]:
        if "/" in system:
            path = Path(system)
            return system, path.parent / system_dir(path.name)
        return system_dir(system), Path(decode_dir) / system_dir(system)

    system_dirs = dict(named(s) for s in systems)
    return {Path(t).name: score_set(Path(t), system_dirs) for t in test_dirs}
