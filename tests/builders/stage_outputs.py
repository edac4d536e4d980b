"""What the recipe's decoding, scoring and raw-results stages write, faked in their real layouts with chosen values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    """One line each, as ``text`` files are (``utt text``)."""
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def fake_test_set(exp: Path, decode: str, test_set: str, lang: str, task: str, score: dict, seconds: float,
                  gflops: float, sparsity: float, skip: Sequence[str] = ()) -> None:
    """The three files stages 12-13 write, in their real layout (``skip`` leaves some out)."""
    d = exp / decode / test_set
    files = {
        "result.json": {"task": task, **score},
        "decode_summary.json": {"num_utts": 3, "seconds_per_utt": seconds, "encoder_seconds_per_utt": seconds / 4,
                                "decoder_seconds_per_utt": 3 * seconds / 4,
                                "model": {"parameters": 4_500_000, "encoder_parameters": 2_500_000,
                                          "file_bytes": 9_000_000},
                                "sparsity": {"encoder": sparsity, "decoder": sparsity / 2},
                                "settings": {"lang_sym": f"<{lang}>", "task_sym": f"<{task}>"}},
        "flops.json": {"gflops": {"encoder": gflops / 2, "decoder": gflops / 2, "total": gflops},
                       "gflops_as_run": {"total": 2 * gflops}},
    }
    for name, data in files.items():
        if name not in skip:
            write_json(d / name, data)
    d.mkdir(parents=True, exist_ok=True)


def raw_entry(language: str, task: str, score: float, seconds: float = 0.5, gflops: float = 1.0,
              sparsity: Optional[Dict[str, float]] = None, parameters: int = 4_000_000, **extra: Any) -> dict:
    """One test set of a raw result (``analysis.raw_results``): ``score`` is the WER (asr) or BLEU (st)."""
    return {"language": language, "task": task, "metrics": {"wer" if task == "asr" else "bleu": score},
            "seconds_per_utt": seconds, "gflops": {"total": gflops}, "gflops_as_run": {"total": 2 * gflops},
            "sparsity": dict(sparsity or {}), "model": {"parameters": parameters}, **extra}


def raw_record(name: str, table: str, method: str, part: str, decodes: Dict[str, Dict[str, dict]],
               target: Optional[float] = None, spec_hash: str = "0123456789abcdef", **meta: Any) -> dict:
    """A raw result: the grid's metadata of experiment ``name`` and ``{decode: {test set: raw_entry}}``."""
    return {"meta": {"name": name, "table": table, "method": method, "part": part, "sparsity_target": target,
                     "spec_hash": spec_hash, **meta}, "decodes": decodes}
