"""Raw results of one experiment: everything the results page needs, in one committed JSON file.

An experiment's recipe outputs (``exp/<name>/decode_*/<test_set>/``: ``result.json``,
``decode_summary.json``, ``flops.json``, ``text``, ``gates.jsonl``) are hundreds of files next to
model checkpoints that are not committed. :func:`collect_experiment` keeps what the tables,
figures, context-dependence and bootstrap statistics read: per decode and test set the scores,
times, GFLOPs, realised sparsity and model size, and per utterance the hypothesis and the gate
pattern of each part (``"1101..."`` in ``gate_names`` order) with, where predicted, each gate's
keep-minus-skip logit (``margins``). The test sets' references go once
into ``<raw_dir>/references/<test_set>.json``, and the grid's experiments (name, spec hash) into
``<raw_dir>/grid.json``, so that a page can list what is not run yet and refuse a raw result whose
spec changed since (stale). RESULTS.md is then rendered from ``<raw_dir>`` alone, in seconds, by
anyone (:mod:`espnet_dynprune.analysis.paper_results`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Union

from espnet_dynprune.analysis.gate_patterns import as_string
from espnet_dynprune.analysis.scoring import normalise_task, read_hypotheses, read_references
from espnet_dynprune.owsm.symbols import symbol_name

PathLike = Union[str, Path]
SUMMARY_KEYS = ("num_utts", "seconds_per_utt", "seconds_per_utt_is", "encoder_seconds_per_utt",
                "decoder_seconds_per_utt", "total_seconds", "sparsity", "sparsity_flops", "weight_sparsity",
                "model")
REFERENCES = "references"
MANIFEST = "grid.json"
TIMING = "timing.json"  # recipe.timing: decode times measured with nothing else running


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: {error} (run stages 12-13 of this experiment to the end)") from error


def collect_test_set(test_dir: Path) -> dict:
    """One decoded and scored test set; a missing or unreadable file raises naming it."""
    summary = _read_json(test_dir / "decode_summary.json")
    result = _read_json(test_dir / "result.json")
    flops = _read_json(test_dir / "flops.json")
    settings = summary["settings"]
    hyps = read_hypotheses(test_dir / "text")
    gates, margins = {}, {}
    with (test_dir / "gates.jsonl").open(encoding="utf-8") as f:
        for record in map(json.loads, f):
            gates[record["utt"]] = record["gates"]
            margins[record["utt"]] = record.get("margins") or {}
    names = {part: list(g) for record in gates.values() for part, g in record.items()}
    if set(hyps) != set(gates):
        raise ValueError(f"{test_dir}: text and gates.jsonl hold different utterances")
    return {
        "language": symbol_name(settings["lang_sym"]),
        "task": normalise_task(settings["task_sym"]),
        "metrics": {k: result[k] for k in ("wer", "cer", "bleu", "chrf", "num_utts") if k in result},
        **{k: summary.get(k) for k in SUMMARY_KEYS},
        "gflops": flops["gflops"],
        "gflops_reprojected": flops.get("gflops_reprojected"),
        "gflops_as_run": flops.get("gflops_as_run"),
        "settings": {k: settings[k] for k in ("gates", "beam_size", "ctc_weight", "maxlenratio", "minlenratio")},
        "data_dir": summary["data_dir"],
        "gate_names": names,
        "utts": {u: {"hyp": hyps[u], "gates": {p: as_string(g) for p, g in gates[u].items()},
                     **({"margins": margins[u]} if margins[u] else {})}
                 for u in sorted(hyps, key=lambda k: k.encode("utf-8"))},
    }


def collect_experiment(exp_dir: PathLike, meta: dict) -> dict:
    """``{"meta": meta, "decodes": {decode: {test_set: collect_test_set(...)}}}`` of ``exp_dir``."""
    exp_dir = Path(exp_dir)
    decodes: Dict[str, Dict[str, dict]] = {}
    for decode in sorted(d for d in exp_dir.glob("decode_*") if d.is_dir()):
        sets = sorted(d for d in decode.iterdir() if (d / "decode_summary.json").is_file())
        decodes[decode.name] = {d.name: collect_test_set(d) for d in sets}
    if not any(decodes.values()):
        raise ValueError(f"{exp_dir} has no decoded test set (decode_*/<test_set>/decode_summary.json)")
    return {"meta": meta, "decodes": decodes}


def write(record: dict, raw_dir: PathLike, recipe_dir: PathLike) -> Path:
    """``<raw_dir>/<name>.json`` and any reference file not there yet; data dirs are stored
    relative to ``recipe_dir`` (the raw files move with the repository)."""
    raw_dir, recipe_dir = Path(raw_dir), Path(recipe_dir).resolve()
    (raw_dir / REFERENCES).mkdir(parents=True, exist_ok=True)
    checked = set()
    for sets in record["decodes"].values():
        for test_set, entry in sets.items():
            data_dir = Path(entry["data_dir"])
            if test_set not in checked:  # once per test set, however many decodes it has
                checked.add(test_set)
                ref_file = raw_dir / REFERENCES / f"{test_set}.json"
                refs = read_references(data_dir / "text", entry["task"])
                if not ref_file.is_file():
                    ref_file.write_text(json.dumps(refs, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
                elif json.loads(ref_file.read_text(encoding="utf-8")) != refs:
                    raise ValueError(f"{ref_file} holds other references than {data_dir / 'text'}: the test set "
                                     f"changed; remove {raw_dir} results made from the old one")
            if data_dir.is_relative_to(recipe_dir):
                entry["data_dir"] = str(data_dir.relative_to(recipe_dir))
    path = raw_dir / f"{record['meta']['name']}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def load(raw_dir: PathLike) -> List[dict]:
    """Every experiment of ``raw_dir`` (name order); an unreadable file raises naming it."""
    raw_dir = Path(raw_dir)
    files = sorted(f for f in raw_dir.glob("*.json") if f.name not in (MANIFEST, TIMING))
    if not files:
        raise FileNotFoundError(f"{raw_dir} holds no raw result (<name>.json): run the grid first")
    records = [_read_json(f) for f in files]
    for f, r in zip(files, records):
        if "meta" not in r or "decodes" not in r:
            raise ValueError(f"{f} is not a raw result (no 'meta'/'decodes')")
    logging.info(f"{len(records)} raw results from {raw_dir}")
    return records


def references(raw_dir: PathLike, test_set: str) -> Dict[str, str]:
    """The references of ``test_set`` stored beside the raw results."""
    return _read_json(Path(raw_dir) / REFERENCES / f"{test_set}.json")


def write_manifest(raw_dir: PathLike, grid: str, experiments: List[dict]) -> Path:
    """``<raw_dir>/grid.json``: the grid file and the meta (name, spec hash, ...) of every experiment."""
    path = Path(raw_dir) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"grid": grid, "experiments": experiments}, indent=1) + "\n", encoding="utf-8")
    return path


def read_manifest(raw_dir: PathLike) -> Optional[dict]:
    """The manifest, or None where the raw results were not made by a grid."""
    path = Path(raw_dir) / MANIFEST
    return _read_json(path) if path.is_file() else None


def read_timing(raw_dir: PathLike) -> dict:
    """``<raw_dir>/timing.json`` (``{"settings": ..., "runs": {name: {"spec_hash", "decodes": {decode:
    {"seconds_per_utt", "encoder_seconds_per_utt", "utts", "same_hypotheses"}}}}}``), or {}."""
    path = Path(raw_dir) / TIMING
    return _read_json(path) if path.is_file() else {}


def write_timing(raw_dir: PathLike, timing: dict) -> Path:
    path = Path(raw_dir) / TIMING
    path.write_text(json.dumps(timing, indent=1) + "\n", encoding="utf-8")
    return path


def recollect(raw_dir: PathLike, recipe_dir: PathLike) -> List[str]:
    """Collect again every raw result whose ``exp/<name>`` is still here, keeping its meta (after the
    raw format gained a field); returns the names redone."""
    recipe_dir = Path(recipe_dir)
    redone = []
    for record in load(raw_dir):
        exp = recipe_dir / "exp" / record["meta"]["name"]
        if exp.is_dir():
            write(collect_experiment(exp, record["meta"]), raw_dir, recipe_dir)
            redone.append(record["meta"]["name"])
    return redone
