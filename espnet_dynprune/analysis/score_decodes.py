"""Stage 13: score every decoded test set and count its GFLOPs, in one process.

``python -m espnet_dynprune.recipe.score_decodes --decode_roots EXP/decode_beam5_gates_*
exp/pretrained/decode_beam5_gates_* [--test_sets test_epst_fra_asr ...]``

A decode root is what stage 12 writes for one model and gate pattern: one dir per test set.
Every test-set dir holding a ``decode_summary.json`` gets ``result.json`` (WER/CER for ``asr``,
BLEU/chrF for ``st_xxx``: :mod:`espnet_dynprune.analysis.scoring`) and ``flops.json``
(:mod:`espnet_dynprune.analysis.flops`), which :mod:`espnet_dynprune.analysis.results_table`
then collects.

Why from the summary: the decode stage recorded the test set it decoded (``data_dir``: the
references are its ``text``), its language and task (``settings.lang_sym``/``task_sym``) and
the model, so nothing is parsed again from file names or text. Test sets are counted grouped
by model, so each model is loaded once (seconds for a real one) and freed before the next.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet_dynprune.analysis import flops, scoring
from espnet_dynprune.owsm.symbols import symbol_name

PathLike = Union[str, Path]
SUMMARY = "decode_summary.json"


@dataclass(frozen=True)
class DecodedTestSet:
    """One test set's decode dir and what its ``decode_summary.json`` says about it."""

    decode_dir: Path
    data_dir: Path
    language: str  # fra
    task: str  # asr or st_eng
    model: Tuple[str, str]  # (s2t_train_config, s2t_model_file)


def read_decode(decode_dir: PathLike) -> DecodedTestSet:
    """Read ``decode_dir/decode_summary.json``; a missing key raises naming the file and the key."""
    decode_dir = Path(decode_dir)
    path = decode_dir / SUMMARY
    summary = json.loads(path.read_text(encoding="utf-8"))
    if "data_dir" not in summary:
        raise ValueError(f"{path} has no 'data_dir' (written by an older decode stage): merge the decode again "
                         f"(python -m espnet_dynprune.recipe.decode ... --merge true)")
    settings = summary.get("settings", {})
    missing = [k for k in ("lang_sym", "task_sym", "s2t_train_config", "s2t_model_file") if k not in settings]
    if missing:
        raise ValueError(f"{path}: 'settings' lacks {missing}")
    return DecodedTestSet(decode_dir, Path(summary["data_dir"]), symbol_name(settings["lang_sym"]),
                          scoring.normalise_task(settings["task_sym"]),
                          (settings["s2t_train_config"], settings["s2t_model_file"]))


def find_decodes(decode_roots: Sequence[PathLike], test_sets: Optional[Sequence[str]] = None) -> List[Path]:
    """Test-set dirs with a ``decode_summary.json``, root by root and in name order.

    ``test_sets`` keeps only those names. A root that is not a directory is skipped with a
    warning (an unmatched shell glob arrives as its pattern).
    """
    found = []
    for root in map(Path, decode_roots):
        if not root.is_dir():
            logging.warning(f"{root} is not a directory (an unmatched glob?): skipped")
            continue
        for test_dir in sorted(d for d in root.iterdir() if d.is_dir()):
            if (test_dir / SUMMARY).is_file() and (test_sets is None or test_dir.name in test_sets):
                found.append(test_dir)
    return found


def score_decodes(decode_roots: Sequence[PathLike], test_sets: Optional[Sequence[str]] = None,
                  max_utts: int = 20) -> List[dict]:
    """Write ``result.json`` and ``flops.json`` into every decoded test set; return what was written.

    Each item: ``decode_dir``, ``language``, ``task``, ``result`` (the scores) and ``flops``.
    """
    decodes = [read_decode(d) for d in find_decodes(decode_roots, test_sets)]
    if not decodes:
        raise ValueError(f"no test set with a {SUMMARY} under {[str(r) for r in decode_roots]}"
                         + (f" among {list(test_sets)}" if test_sets is not None else "") + ": run stage 12 first")
    records: Dict[Path, dict] = {}
    for d in decodes:
        result = scoring.score_files(d.data_dir / "text", d.decode_dir / "text", d.task, d.decode_dir / "result.json")
        records[d.decode_dir] = {"decode_dir": str(d.decode_dir), "language": d.language, "task": d.task,
                                 "result": result}
    for model in dict.fromkeys(d.model for d in decodes):
        loaded: Dict[Tuple[str, str], tuple] = {}  # this model only: freed before the next one loads
        for d in decodes:
            if d.model == model:
                records[d.decode_dir]["flops"] = flops.flops_of_decode(
                    d.decode_dir, d.data_dir, max_utts=max_utts, output=d.decode_dir / "flops.json", models=loaded)
    return list(records.values())
