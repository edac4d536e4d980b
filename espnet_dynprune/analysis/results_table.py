"""Results tables over experiments: quality, speed, GFLOPs and realised sparsity.

``python -m espnet_dynprune.recipe.results_table --exp_dirs exp/a exp/b --output_dir exp/results``

Reads what stages 12-13 write for every test set of every decoding of every
experiment, ``EXP/decode_<tag>/<test_set>/``:

- ``result.json`` (scoring): ``wer``/``cer`` (ASR) or ``bleu``/``chrf`` (ST);
- ``decode_summary.json`` (decode): ``seconds_per_utt`` (and the encoder's and decoder's
  shares), ``sparsity`` per part, ``model`` (parameters, the encoder's, file bytes),
  ``settings.lang_sym``/``task_sym``;
- ``flops.json`` (flops): ``gflops.total`` and ``gflops_as_run.total``.

Writes ``results.md`` (an overview with one row per experiment x decoding and the
main metric of each test set, then one detailed table per experiment) and
``results.csv`` (the detailed rows), and prints the markdown. A missing file
gives ``n/a`` cells (empty in the CSV) and a warning naming the file; a metric
that does not apply to the task (BLEU of an ASR set) stays blank.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

PathLike = Union[str, Path]
NA = "n/a"
#: Detailed columns: (header, row key, format).
COLUMNS = (
    ("Experiment", "experiment", "{}"), ("Decode", "decode", "{}"), ("Test set", "test_set", "{}"),
    ("Lang", "lang", "{}"), ("Task", "task", "{}"), ("WER", "wer", "{:.2f}"), ("CER", "cer", "{:.2f}"),
    ("BLEU", "bleu", "{:.2f}"), ("chrF", "chrf", "{:.2f}"), ("s/utt", "seconds_per_utt", "{:.3f}"),
    ("GFLOPs", "gflops", "{:.4g}"), ("GFLOPs as run", "gflops_as_run", "{:.4g}"), ("Enc sparsity", "enc_sparsity", "{:.3f}"),
    ("Dec sparsity", "dec_sparsity", "{:.3f}"), ("enc s/utt", "encoder_seconds_per_utt", "{:.3f}"),
    ("dec s/utt", "decoder_seconds_per_utt", "{:.3f}"), ("Params M", "params_m", "{:.2f}"),
    ("Enc params M", "enc_params_m", "{:.2f}"), ("File MB", "file_mb", "{:.1f}"),
)  # fmt: skip
_MISSING = object()


def _load(path: Path) -> Optional[dict]:
    if not path.is_file():
        logging.warning(f"{path} is missing: its cells are {NA}")
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def row_of_test_set(experiment: str, decode: str, test_dir: Path) -> Dict[str, object]:
    """One detailed row; ``_MISSING`` marks values whose file is absent, None what does not apply."""
    result = _load(test_dir / "result.json")
    summary = _load(test_dir / "decode_summary.json")
    flops = _load(test_dir / "flops.json")
    settings = (summary or {}).get("settings", {})
    task = settings.get("task_sym", "").strip("<>") or (result or {}).get("task") or _MISSING
    row: Dict[str, object] = {
        "experiment": experiment, "decode": decode, "test_set": test_dir.name,
        "lang": settings.get("lang_sym", "").strip("<>") or _MISSING, "task": task,
    }
    asr = task == "asr"
    for key, applies in (("wer", asr), ("cer", asr), ("bleu", not asr), ("chrf", not asr)):
        row[key] = (result.get(key) if result is not None else _MISSING) if applies or task is _MISSING else None
    sparsity = (summary or {}).get("sparsity", {})
    row["seconds_per_utt"] = summary["seconds_per_utt"] if summary is not None else _MISSING
    row["enc_sparsity"] = sparsity.get("encoder") if summary is not None else _MISSING
    row["dec_sparsity"] = sparsity.get("decoder") if summary is not None else _MISSING
    for key in ("encoder_seconds_per_utt", "decoder_seconds_per_utt"):
        row[key] = summary.get(key, _MISSING) if summary is not None else _MISSING
    model = (summary or {}).get("model")
    for key, field, scale in (("params_m", "parameters", 1e6), ("enc_params_m", "encoder_parameters", 1e6),
                              ("file_mb", "file_bytes", 1e6)):
        row[key] = model[field] / scale if model is not None else _MISSING
    row["gflops"] = flops["gflops"]["total"] if flops is not None else _MISSING
    row["gflops_as_run"] = (flops.get("gflops_as_run") or {}).get("total") if flops is not None else _MISSING
    return row


def collect(exp_dirs: Sequence[PathLike]) -> List[Dict[str, object]]:
    """Detailed rows of every ``EXP/decode_*/<test_set>/``, in name order."""
    rows = []
    for exp in map(Path, exp_dirs):
        decodes = sorted(d for d in exp.glob("decode_*") if d.is_dir())
        if not decodes:
            logging.warning(f"{exp} has no decode_* directory")
        for decode in decodes:
            # DECODE/logdir holds the logs of the decoding JOB array, not a test set.
            for test_dir in sorted(d for d in decode.iterdir() if d.is_dir() and d.name != "logdir"):
                rows.append(row_of_test_set(exp.name, decode.name, test_dir))
    return rows


def cell(value: object, fmt: str = "{}", missing: str = NA) -> str:
    """Formatted value; ``missing`` for a missing file, blank for a metric that does not apply."""
    if value is _MISSING:
        return missing
    return "" if value is None else fmt.format(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _mean(values: List[object]) -> object:
    present = [v for v in values if v is not _MISSING and v is not None]
    return sum(present) / len(present) if present else _MISSING


def overview(rows: List[Dict[str, object]]) -> str:
    """One row per experiment x decoding: each test set's main metric, then means."""
    test_sets = sorted({r["test_set"] for r in rows})
    metric = {t: next(("WER" if r["task"] == "asr" else "BLEU" if r["task"] is not _MISSING else "score")
                      for r in rows if r["test_set"] == t) for t in test_sets}
    runs = sorted({(r["experiment"], r["decode"]) for r in rows})
    body = []
    for exp, decode in runs:
        mine = {r["test_set"]: r for r in rows if (r["experiment"], r["decode"]) == (exp, decode)}
        scores = []
        for t in test_sets:
            r = mine.get(t)
            key = "wer" if metric[t] == "WER" else "bleu"
            scores.append(cell(r[key] if r is not None else _MISSING, "{:.2f}"))
        means = [cell(_mean([r[k] for r in mine.values()]), fmt) for k, fmt in
                 (("seconds_per_utt", "{:.3f}"), ("gflops", "{:.4g}"), ("enc_sparsity", "{:.3f}"),
                  ("dec_sparsity", "{:.3f}"), ("encoder_seconds_per_utt", "{:.3f}"),
                  ("decoder_seconds_per_utt", "{:.3f}"), ("params_m", "{:.2f}"), ("enc_params_m", "{:.2f}"),
                  ("file_mb", "{:.1f}"))]
        body.append([exp, decode, *scores, *means])
    headers = ["Experiment", "Decode", *(f"{t} {metric[t]}" for t in test_sets),
               "mean s/utt", "mean GFLOPs", "mean enc sparsity", "mean dec sparsity", "mean enc s/utt",
               "mean dec s/utt", "params M", "enc params M", "file MB"]
    return markdown_table(headers, body)


def render_markdown(rows: List[Dict[str, object]]) -> str:
    """``results.md``: the overview, then a detailed table per experiment."""
    parts = ["# Results\n", "## Overview\n", overview(rows)]
    headers = [h for h, _, _ in COLUMNS[1:]]
    for exp in sorted({r["experiment"] for r in rows}):
        mine = [r for r in rows if r["experiment"] == exp]
        parts += [f"## {exp}\n", markdown_table(headers, [[cell(r[k], f) for _, k, f in COLUMNS[1:]] for r in mine])]
    return "\n".join(parts)


def write_csv(rows: List[Dict[str, object]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([key for _, key, _ in COLUMNS])
        for r in rows:
            writer.writerow([cell(r[k], "{}", missing="") for _, k, _ in COLUMNS])


def results_table(exp_dirs: Sequence[PathLike], output_dir: PathLike) -> str:
    """Collect, write ``results.md`` and ``results.csv`` into ``output_dir``; return the markdown."""
    rows = collect(exp_dirs)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    text = render_markdown(rows)
    (output_dir / "results.md").write_text(text, encoding="utf-8")
    write_csv(rows, output_dir / "results.csv")
    return text
