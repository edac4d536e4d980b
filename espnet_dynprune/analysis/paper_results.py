"""Render RESULTS.md (tables, figures, captions, statistics) from the raw results of the grid.

``cd egs2/europarl_st/s2t1 && python -m espnet_dynprune.recipe.paper_results --raw_dir
results/raw --header results/header.md --output RESULTS.md``

Seconds, no model loaded: everything comes from ``<raw_dir>/*.json``
(:mod:`espnet_dynprune.analysis.raw_results`), which the grid writes as experiments finish. Writes
the page, one CSV per table into ``<output dir>/results/tables/`` and the PNG figures into
``<output dir>/results/figures/``. Experiments of the grid (``<raw_dir>/grid.json``) with no raw
result yet are listed as not run, so a partial grid never reads as a complete one; a raw result
made from another spec than the grid's now (stale) is listed and left out of every table.

The page follows ESPnet's and icefall's RESULTS.md: an environment block first, then per table the
command that produced it, the table, its figure and a one-line conclusion. The header is the
hand-written part: its ``<!-- name -->`` lines open named parts the renderer places
(:func:`header_parts`): ``environment``, the facts recorded by hand for raw results that predate
the ``environment`` record, and ``caption:<table>``, each table's conclusion.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import json
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from espnet_dynprune.analysis import gate_patterns, paper_figures, raw_results, significance
from espnet_dynprune.analysis.paper_rows import (
    DEFAULT_DATA,
    Row,
    all_rows,
    baseline,
    column_name,
    joint_model,
    table_rows,
    test_set_order,
    timing_passes,
    without,
)

COLUMNS = """Columns:

- WER (%, ASR) and BLEU (ST, sacrebleu 13a) per test set.
- **s/utt**: decode seconds per utterance (beam 5, one thread) measured by `python -m
  espnet_dynprune.recipe.timing` on the first utterances of every test set with nothing else running, all
  models in turn (blank: its model was not kept to be timed; *N% same*: only N% of the timed hypotheses were
  the grid's: a re-trained model of the same spec was timed, not the one scored).
- *s/utt in grid*: the whole test set as the grid decoded it, beside another training job (not a speed
  comparison; *batched*: decoded several utterances at once, each batch's time shared out).
- GFLOPs: fvcore, 1 multiply-add = 1 flop, per utterance: *stock-style* counts output tokens + 1 beam steps
  with the source K/V re-projected at every step for every hypothesis, as ESPnet's stock decoder runs them
  (the papers' convention); *as run* the decoder calls this decoder really made (K/V once; batched: each
  batch's calls shared out, the rows of utterances that had ended included).
- enc/dec sparsity: the realised fraction of gated modules skipped (*weights*: of the pruned Linear weights
  zero, for magnitude pruning and PARP, as the model decoded).
- train+decode min: the experiment's wall clock in the grid (*resumed*: only the last attempt's, an earlier
  one having done part of the work).
"""
SIGNIFICANCE = (f"Difference tables: paired bootstrap over utterances "
                f"({significance.SAMPLES} resamples), WER {{diff [95% CI]}}, BLEU {{diff (p)}}; * = a non-zero "
                f"difference at p < {significance.ALPHA} (WER: and its 95% interval without 0); "
                f"{significance.IDENTICAL}: the same hypothesis for every utterance; *same BLEU*: other "
                f"hypotheses, the same score (no p-value).\n")
TABLES = {
    "baseline": "Baselines: the pretrained model and dense fine-tuning",
    "dynamic": "Context-aware dynamic pruning (encoder, decoder, joint) at each target sparsity",
    "baselines": "Other pruning methods at matching sparsities",
    "lowres": "Low-resource languages (FLEURS layout: hu, bg): encoder vs decoder pruning",
    "more_data": "More data: Europarl-ST with the VoxForge add-on (fr, de, it ASR) against without",
    "ablation": "What makes the gates context-dependent: ablations of the joint model at target 0.5",
}
#: Tables whose experiments each change one thing of another experiment: that one (shown beside
#: them, and the paired bootstrap of the difference) and what the difference is.
COUNTERPARTS = {
    "more_data": (without, "With the extra data minus without it (the same experiment on the default setup alone)"),
    "ablation": (joint_model, "Each ablation minus the context-aware joint model at the same target it changes"),
}
CONTEXT = "context"  # the caption key of the context-dependence section
#: ``<!-- name -->`` on a line of its own opens a named part of the header, up to the next one or the end.
HEADER_PART = re.compile(r"^<!-- ([\w:-]+) -->[ \t]*$", re.MULTILINE)
#: An environment record's fields (:func:`espnet_dynprune.analysis.environment.machine`), labelled as ESPnet does.
ENVIRONMENT_FIELDS = (("python", "python version"), ("espnet", "espnet version"),
                      ("torch", "pytorch version"), ("commit", "git commit"), ("platform", "machine"),
                      ("cpu", "CPU"), ("threads", "torch threads"), ("gpu", "GPU"))


def header_parts(header: str) -> tuple[str, Dict[str, str]]:
    """(the header's page text, its named parts): one hand-written file holds every fact the
    renderer cannot compute, each once; a misspelt name fails rather than dropping its text."""
    pieces = HEADER_PART.split(header)
    names = pieces[1::2]
    known = {"environment", *(f"caption:{t}" for t in (*TABLES, CONTEXT))}
    wrong = sorted({n for n in names if n not in known or names.count(n) > 1})
    if wrong:
        raise ValueError(f"header parts {wrong} are unknown or repeated; each may appear once of {sorted(known)}")
    return pieces[0], {n: text.strip() for n, text in zip(names, pieces[2::2])}


def _results(names: Sequence[str], total: int) -> str:
    return f"all {total} raw results" if len(names) == total else f"{len(names)} of {total} ({', '.join(names)})"


def environment_block(records: Sequence[dict], fallback: str = "") -> str:
    """ESPnet's "Environments" block: the newest result's date, each distinct ``environment`` record of
    the raw results, and for results that predate the record the header's facts recorded by hand."""
    lines = ["## Environments\n"]
    dates = [r["meta"]["finished"] for r in records if r["meta"].get("finished")]
    if dates:
        lines.append(f"- date: `{max(dates)}` (the newest raw result)")
    groups: Dict[str, List[str]] = {}
    for r in records:
        env = r["meta"].get("environment")
        groups.setdefault(json.dumps(env, sort_keys=True) if env else "", []).append(r["meta"]["name"])
    for key, names in groups.items():
        if key:
            env = json.loads(key)
            lines.append(f"- recorded with {_results(names, len(records))}:")
            lines += [f"  - {label}: `{env[field] or ('none' if field == 'gpu' else 'unknown')}`"
                      for field, label in ENVIRONMENT_FIELDS if field in env]
    if "" in groups:
        lines.append(f"- {_results(groups[''], len(records))} predate the environment record: "
                     + ("recorded by hand, not by the grid:" if fallback else "no environment is known."))
        lines += ["  " + line if line else "" for line in fallback.splitlines()]
    return "\n".join(lines) + "\n"


def name_patterns(names: Sequence[str], grid: Sequence[str]) -> List[str]:
    """``names`` as few ``--only`` patterns: a sweep's targets (two or more) as one ``<sweep>_*`` where
    that matches nothing of ``grid`` outside ``names``, so the command runs exactly these experiments."""
    names = list(dict.fromkeys(names))  # a table's experiment has a row per gate pattern
    sweeps = [re.sub(r"_\d+(\.\d+)?$", "_*", n) for n in names]
    patterns = [s if sweeps.count(s) > 1 and set(fnmatch.filter(grid, s)) <= set(names) else n
                for n, s in zip(names, sweeps)]
    patterns = list(dict.fromkeys(patterns))
    return [p for p in patterns if not any(q != p and fnmatch.fnmatchcase(p, q) for q in patterns)]


def command(names: Sequence[str], grid: Sequence[str], grid_file: Optional[str], timing: Optional[dict]) -> str:
    """The one line, run in the recipe, that makes a table's numbers: its experiments, then their times."""
    only = " ".join(f"'{p}'" if "*" in p else p for p in name_patterns(names, grid))
    line = "python -m espnet_dynprune.recipe.grid" + (f" --grid {grid_file}" if grid_file else "") + f" --only {only}"
    if timing:
        line += (f" && python -m espnet_dynprune.recipe.timing --utts_per_set {timing['utts_per_set']} "
                 f"--repeats {timing['repeats']}")
    return f"```sh\n{line}\n```\n"


def _f(value: Optional[float], fmt: str = "{:.2f}") -> str:
    return "" if value is None else fmt.format(value)


def markdown_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"


def pass_letters(rows: Sequence[Row]) -> Dict[str, str]:
    """Timing pass -> A, B, ... (oldest first): a time cell names its pass."""
    return {p: chr(ord("A") + i) for i, p in enumerate(timing_passes(rows))}


def _timing_note(row: Row, passes: Dict[str, str]) -> str:
    """The pass of a clean time, and how many timed hypotheses were the grid's where not all."""
    if not row.timing_pass:
        return ""
    same = row.timed_same_hypotheses
    return f" ({passes[row.timing_pass]}" + ("" if same is None or same >= 1 else f"; {same:.0%} same") + ")"


def results_table(rows: Sequence[Row], passes: Dict[str, str]) -> tuple[List[str], List[List[str]]]:
    """Headers and cells of one table: per test set the main metric, then cost columns."""
    sets = test_set_order(rows)
    headers = ["Experiment", "Gates", *(column_name(rows, t) for t in sets), "s/utt", "s/utt in grid",
               "GFLOPs stock-style", "GFLOPs as run", "enc sparsity", "dec sparsity", "params M", "train+decode min"]
    body = [[r.label, r.gates, *(_f(r.scores.get(t)) for t in sets),
             _f(r.clean_seconds_per_utt, "{:.3f}") + _timing_note(r, passes),
             _f(r.seconds_per_utt, "{:.3f}") + (" (batched)" if r.amortised else ""),
             _f(r.gflops_reprojected, "{:.3f}"), _f(r.gflops_as_run, "{:.3f}"),
             _sparsity(r.enc_sparsity, r.enc_weight_sparsity), _sparsity(r.dec_sparsity, r.dec_weight_sparsity),
             _f(r.params_m),
             _f(r.wall_minutes, "{:.0f}") + (" (resumed)" if r.resumed else "")] for r in rows]
    return headers, body


def _sparsity(gates: Optional[float], weights: Optional[float]) -> str:
    return _f(gates, "{:.3f}") if weights is None else f"{weights:.3f} (weights)"


def write_csv(path: Path, headers: Sequence[str], body: Sequence[Sequence[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(body)


def compare(references: Callable[[str], Dict[str, str]], test_set: str, base: Row, system: Row) -> Optional[dict]:
    """Paired bootstrap of ``system`` against ``base`` on one test set (None if either lacks it)."""
    if test_set not in base.sets or test_set not in system.sets:
        return None
    refs = references(test_set)
    utts = list(refs)
    hyp = [[s.sets[test_set]["utts"][u]["hyp"] for u in utts] for s in (base, system)]
    return significance.paired_test(system.tasks[test_set], [refs[u] for u in utts], *hyp)


def significance_table(references: Callable[[str], Dict[str, str]], rows: Sequence[Row],
                       against: Callable[[Row], Optional[Row]]) -> str:
    """Each row's difference against ``against(row)`` per test set: ``diff [95% CI]``, * if significant."""
    sets = test_set_order(rows)
    body = []
    for r in rows:
        base = against(r)
        if base is None or base is r:
            continue
        cells = []
        for t in sets:
            c = compare(references, t, base, r)
            if c is None:
                cells.append("")
            elif c["metric"] == significance.IDENTICAL:
                cells.append(significance.IDENTICAL)
            elif c["metric"] == "WER":
                cells.append(f"{c['diff']:+.2f} [{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]"
                             + (" *" if significance.significant(c) else ""))
            elif c["diff"] == 0:  # sacrebleu's p-value of a zero difference is small: it says nothing here
                cells.append("+0.00 (same BLEU)")
            else:
                cells.append(f"{c['diff']:+.2f} (p={c['p_value']:.3f})" + (" *" if significance.significant(c) else ""))
        body.append([r.label, *cells])
    return markdown_table(["Experiment", *(column_name(rows, t) for t in sets)], body) if body else ""


def context_table(dependence: Dict[str, Dict[str, dict]]) -> str:
    body = []
    for label, parts in dependence.items():
        for part, d in parts.items():
            body.append([label, part, str(d["utterances"]), str(d["distinct_patterns"]),
                         ", ".join(f"{k} {v}" for k, v in d["distinct_per_language"].items()),
                         ", ".join(f"{k} {v}" for k, v in d["distinct_per_task"].items()),
                         f"{d['pattern_entropy_bits']:.2f}", f"{d['mi_language_bits']:.2f} / {d['language_entropy_bits']:.2f}",
                         f"{d['mi_task_bits']:.2f} / {d['task_entropy_bits']:.2f}", f"{d['mi_language_task_bits']:.2f}"])
    return markdown_table(["Experiment", "Part", "utts", "distinct patterns", "per language", "per task",
                           "H(pattern) bits", "I(pattern; language) / H(language)", "I(pattern; task) / H(task)",
                           "I(pattern; language x task)"], body) if body else ""


def dependence_of(row: Row) -> Dict[str, dict]:
    """Context dependence of a row's gate decisions over all its test sets."""
    utterances = []
    for entry in row.sets.values():
        names = entry["gate_names"]
        for u in entry["utts"].values():
            record = {p: dict(zip(names[p], (b == "1" for b in bits))) for p, bits in u["gates"].items()}
            utterances.append((entry["language"], entry["task"], record))
    return gate_patterns.context_dependence(utterances)


def distinct_labels(rows: Sequence[Row]) -> List[str]:
    """Each row's label, with its data setup where that is not the default: the low-resource sweeps share
    their labels with the Europarl-ST ones, and the context tables hold both."""
    return [r.label if r.data == DEFAULT_DATA else f"{r.label} [{r.data}]" for r in rows]


def margins_of(row: Row) -> Dict[str, dict]:
    """Per part, :func:`gate_patterns.margin_summary` of a row's utterances (parts without margins left out)."""
    found: Dict[str, list] = {}
    for entry in row.sets.values():
        for u in entry["utts"].values():
            for part, m in u.get("margins", {}).items():
                found.setdefault(part, []).append((entry["language"], entry["task"], m))
    return {part: gate_patterns.margin_summary(utts) for part, utts in sorted(found.items())}


def margin_table(margins: Dict[str, Dict[str, dict]]) -> str:
    body = [[label, part, str(m["gates"]), f"{m['mean_abs_margin']:.2f}", f"{m['between_context_std']:.2f}",
             f"{m['within_context_std']:.2f}", str(m["gates_flipping_between_contexts"]),
             str(m["gates_flipping_within_a_context"])]
            for label, parts in margins.items() for part, m in parts.items()]
    return markdown_table(["Experiment", "Part", "gates", "mean abs(margin)", "std between contexts",
                           "std within a context", "gates flipping between contexts",
                           "gates flipping within a context"], body) if body else ""


def grid_status(raw_dir: Path, records: List[dict]) -> tuple[List[dict], List[str]]:
    """(the records to show, lines on what the grid has not run or has only stale results of)."""
    manifest = raw_results.read_manifest(raw_dir)
    if manifest is None:
        return records, []
    specs = {e["name"]: e["spec_hash"] for e in manifest["experiments"]}
    stale = [r["meta"]["name"] for r in records if r["meta"]["name"] in specs
             and r["meta"]["spec_hash"] != specs[r["meta"]["name"]]]
    fresh = [r for r in records if r["meta"]["name"] not in stale]
    missing = [n for n in specs if n not in {r["meta"]["name"] for r in fresh}]
    lines = []
    hours = sum(r["meta"].get("wall_seconds") or 0 for r in fresh) / 3600
    lines.append(f"**Grid**: {len(fresh)} of the {len(specs)} experiments of `{manifest['grid']}` done, "
                 f"{hours:.1f} h of wall clock on the machine that ran them"
                 + (f"; the remaining {len(missing)} at the mean time so far: about "
                    f"{hours / max(len(fresh), 1) * len(missing):.0f} h more (an estimate)." if missing else ".")
                 + "\n")
    if missing:
        lines.append(f"**Not run yet** ({len(missing)} of the {len(specs)} experiments of `{manifest['grid']}`): "
                     f"{', '.join(missing)}.\n")
    if stale:
        lines.append(f"**Stale, left out** (made from another spec than the grid's now): {', '.join(stale)}.\n")
    return fresh, lines


def render(raw_dir: Path, output: Path, header: str = "") -> str:
    body, named = header_parts(header)
    heading, _, lead = body.partition("\n") if body.startswith("# ") else ("# Results", "", body)
    records, status = grid_status(raw_dir, raw_results.load(raw_dir))
    timing = raw_results.read_timing(raw_dir)
    rows = all_rows(records, timing)
    manifest = raw_results.read_manifest(raw_dir)
    grid = [e["name"] for e in manifest["experiments"]] if manifest else [r["meta"]["name"] for r in records]
    run = functools.partial(command, grid=grid, grid_file=manifest and manifest["grid"])
    references = functools.lru_cache(maxsize=None)(lambda test_set: raw_results.references(raw_dir, test_set))
    out_dir = output.parent
    passes = pass_letters(rows)
    parts = [heading + "\n", environment_block(records, named.get("environment", ""))]
    parts += [lead.strip("\n") + "\n"] if lead.strip() else []
    parts += ["## Reading the tables\n", *status, COLUMNS, SIGNIFICANCE]
    if passes:
        parts.append("Timing passes (the letter after each s/utt; times compare within one pass only, another "
                     "may have found the machine busier): "
                     + "; ".join(f"{letter} = {p}" for p, letter in passes.items()) + ".\n")
    dense = {data: b for data in {r.data for r in rows} if (b := baseline(rows, data)) is not None}
    for table, title in TABLES.items():
        mine = table_rows(rows, table)
        if not any(r.table == table for r in mine):
            continue
        own = [r for r in mine if r.table == table]
        find, difference = COUNTERPARTS.get(table, (None, ""))
        if find:  # the experiments changed (each once), after the baselines
            others = list({id(c): c for r in mine if (c := find(rows, r)) is not None}.values())
            mine = [r for r in mine if r.is_baseline] + others + [r for r in mine if not r.is_baseline]
        headers, body = results_table(mine, passes)
        write_csv(out_dir / "results" / "tables" / f"{table}.csv", headers, body)
        timed = timing.get("settings") if any(r.timing_pass for r in own) else None  # the timing pass measured them
        parts += [f"## {title}\n", run([r.experiment for r in own], timing=timed),
                  markdown_table(headers, body), f"CSV: [results/tables/{table}.csv](results/tables/{table}.csv)\n"]
        sig = significance_table(references, [r for r in mine if not r.is_baseline or table == "baseline"],
                                 lambda r: dense.get(r.data))
        if sig:
            parts += ["Difference against dense fine-tuning (paired bootstrap):\n", sig]
        sig = find and significance_table(references, own, lambda r: find(rows, r))
        if sig:
            parts += [f"{difference}:\n", sig]
        fixed = {r.experiment: r for r in mine if r.gates == "most_frequent"}
        sig = significance_table(references, [r for r in mine if r.gates == "predicted" and r.experiment in fixed],
                                 lambda r: fixed.get(r.experiment))
        if sig:
            parts += ["Dynamic gates against the same model with its most frequent pattern forced on every "
                      "utterance (predicted minus fixed; the dynamic part pays where it is significantly better):\n",
                      sig]
        curve_rows = [r for r in mine if not r.is_baseline]
        if any(r.target is not None for r in curve_rows):
            name = f"results/figures/{table}_vs_sparsity.png"
            caption = paper_figures.curves(curve_rows, dense.get(curve_rows[0].data), out_dir / name)
            parts.append(f"![{table} vs sparsity]({name})\n\n*{caption}*\n")
        parts += [f"**Conclusion:** {named[f'caption:{table}']}\n"] if f"caption:{table}" in named else []
    gated = [r for r in rows if r.gates == "predicted" and any(e["gate_names"] for e in r.sets.values())]
    labels = distinct_labels(gated)
    dependence = {label: dependence_of(r) for label, r in zip(labels, gated)}
    if dependence:
        parts += ["## Context dependence of the gates\n", run([r.experiment for r in gated], timing=None),
                  "Distinct gate patterns (one per part and utterance) and the mutual information between "
                  "pattern and language / task over all decoded test utterances (bits; the bound is the "
                  "entropy of the language or task: equal means the pattern determines it).\n",
                  context_table(dependence)]
        margins = margin_table({label: margins_of(r) for label, r in zip(labels, gated)})
        if margins:
            parts += ["Why the patterns do or do not move: each gate's margin (keep minus skip logit; the decision "
                      "flips where it crosses 0) averaged over utterances, the spread of its per-context mean (what "
                      "language and task move it by) and its spread within one language x task (what the speech "
                      "moves it by), means over the part's gates.\n", margins]
        for label, r in zip(labels, gated):
            name = f"results/figures/gates_{r.experiment}.png"
            caption = paper_figures.heatmaps(dependence[label], label, out_dir / name)
            parts.append(f"![gates of {r.experiment}]({name})\n\n*{label}: {caption}*\n")
        parts += [f"**Conclusion:** {named[f'caption:{CONTEXT}']}\n"] if f"caption:{CONTEXT}" in named else []
    text = "\n".join(parts)
    output.write_text(text, encoding="utf-8")
    return text
