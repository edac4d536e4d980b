"""Tables in the docs, rendered from the committed benchmark JSON, never typed.

A page marks each generated table with a comment naming what renders it and from what:

    <!-- table: bench egs2/europarl_st/s2t1/results/bench/owsm_base_espnet202611.json base -->
    ...generated...
    <!-- /table -->

:func:`fill` replaces what stands between the two markers with what the named renderer makes of
its arguments now (paths relative to the repository root), so a page re-rendered after a new
measurement shows the new numbers, and a page whose JSON changed since is told apart from a
current one (``fill(text) != text``). The renderers are the benchmark commands' own table writers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Dict, Mapping, Sequence

Renderer = Callable[[Path, Sequence[str]], str]
MARKED = re.compile(r"(<!-- table: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def _report(root: Path, path: str) -> dict:
    file = root / path
    if not file.is_file():
        raise FileNotFoundError(f"{file}: the JSON a docs table is rendered from is missing")
    return json.loads(file.read_text(encoding="utf-8"))


def _size(report: dict, path: str, size: str) -> dict:
    if size not in report.get("sizes", {}):
        raise KeyError(f"{path}: no size {size!r} (it has {sorted(report.get('sizes', {}))})")
    return report["sizes"][size]


def _body(markdown: str) -> str:
    """A table writer's text without its own heading line (the page has its headings)."""
    lines = markdown.split("\n")
    return "\n".join(lines[1:] if lines and lines[0].startswith("#") else lines)


def machine(root: Path, args: Sequence[str]) -> str:
    """One line: where and with what a benchmark JSON was measured."""
    (path,) = args
    m = _report(root, path)["machine"]
    gpu = m.get("gpu") or "no GPU"
    espnet = m.get("espnet", "(release not recorded)")
    where = f"{m['cpu']}, `{m['platform']}`" if m.get("cpu") else f"`{m['platform']}`"
    code = f", code at commit {m['commit']}" if m.get("commit") else ""
    return (f"Measured with ESPnet {espnet}, torch {m['torch']}, {m['threads']} threads, {gpu}, "
            f"on {where}{code} (raw: `{path}`).")


def bench(root: Path, args: Sequence[str]) -> str:
    """``bench decode``'s table and targets for one size."""
    from espnet_dynprune.analysis.bench_report import markdown

    path, size = args
    r = _size(_report(root, path), path, size)
    return _body(markdown(size, r["results"], r.get("mixed_batch")))


def throughput(root: Path, args: Sequence[str]) -> str:
    """``bench throughput``'s ladder for one size."""
    from espnet_dynprune.analysis.throughput import markdown

    path, size = args
    return _body(markdown(size, _size(_report(root, path), path, size)))


def static_bench(root: Path, args: Sequence[str]) -> str:
    """``bench encoder``'s table for one size, for one Whisper (``whisper:<model>``), or
    (``zoo_dirs``) for the trained models."""
    from espnet_dynprune.analysis.static_bench import markdown, trained_targets

    path, size = args
    report = _report(root, path)
    if size == "zoo_dirs":
        results = report["zoo_dirs"]["results"]
        return _body(markdown("trained models'", results, trained_targets(results)))
    if size.startswith("whisper:"):
        model = size.split(":", 1)[1]
        if model not in report.get("whisper", {}):
            raise KeyError(f"{path}: no Whisper {model!r} (has {sorted(report.get('whisper', {}))})")
        return _body(markdown(f"Whisper {model}", report["whisper"][model]["results"]))
    return _body(markdown(size, _size(report, path, size)["results"]))


def precision(root: Path, args: Sequence[str]) -> str:
    """``bench experiment`` over several test sets (one JSON each, given as a glob): one
    row per configuration, a WER or BLEU column per set, and in how many sets its hypotheses
    differ from the first configuration's."""
    (pattern,) = args
    files = sorted(root.glob(pattern))
    if not files:
        raise FileNotFoundError(f"{root / pattern}: no JSON for the precision table")
    reports = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    sets = {Path(r["settings"]["data_dir"]).name: r["results"] for r in reports}
    configs = list(next(iter(sets.values())))
    names = [f"{'WER' if 'wer' in r[configs[0]] else 'BLEU'} {name}" for name, r in sets.items()]
    lines = [f"| batch:encoder:decoder | {' | '.join(names)} | sets with another hypothesis than {configs[0]} |",
             "|---|" + "---|" * (len(names) + 1)]
    for c in configs:
        scores = [f"{r[c].get('wer', r[c].get('bleu')):.2f}" for r in sets.values()]
        other = sum(not r[c]["same_hypotheses"] for r in sets.values())
        lines.append(f"| {c} | {' | '.join(scores)} | {'-' if c == configs[0] else f'{other} of {len(sets)}'} |")
    return "\n".join(lines)


RENDERERS: Dict[str, Renderer] = {"machine": machine, "bench": bench, "throughput": throughput,
                                  "static_bench": static_bench, "precision": precision}


def fill(text: str, root: Path, renderers: Mapping[str, Renderer] = RENDERERS, where: str = "page") -> str:
    """``text`` with every marked table rendered anew (an unknown renderer names the page and marker)."""
    def render(match: re.Match) -> str:
        name, *args = match.group("spec").split()
        if name not in renderers:
            raise ValueError(f"{where}: table marker {match.group('spec')!r}: no renderer {name!r} "
                             f"(known: {sorted(renderers)})")
        return f"{match.group(1)}{renderers[name](root, args).rstrip()}\n{match.group(4)}"

    return MARKED.sub(render, text)
