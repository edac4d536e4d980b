"""The paper's figures (PNG, matplotlib): gate keep-rate heatmaps and quality/time vs sparsity.

Each function draws one figure and returns its caption, which states what the figure shows in
numbers read off the same data (the conclusion it supports), so a regenerated page never carries
a caption that its figure contradicts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from espnet_dynprune.analysis.paper_rows import Row, timing_passes  # noqa: E402

_GATE = re.compile(r"^layer(\d+)(?:\.(\w+))?$")


def layer_module_grid(names: Sequence[str], rates: Sequence[float]) -> Tuple[np.ndarray, List[str], List[str]]:
    """Keep rates of ``layer<i>.<module>`` gates as a (layers x modules) array (NaN: no such gate)."""
    parsed = []
    for name in names:
        match = _GATE.match(name)
        if match is None:
            raise ValueError(f"gate name {name!r} is not layer<i> or layer<i>.<module>")
        parsed.append((int(match.group(1)), match.group(2) or "layer"))
    modules = list(dict.fromkeys(m for _, m in parsed))
    layers = sorted({i for i, _ in parsed})
    grid = np.full((len(layers), len(modules)), np.nan)
    for (layer, module), rate in zip(parsed, rates):
        grid[layers.index(layer), modules.index(module)] = rate
    return grid, [f"layer {i}" for i in layers], modules


def heatmaps(dependence: Dict[str, dict], title: str, path: Path) -> str:
    """Per part (rows) and language x task (columns): keep rate per layer x module."""
    parts = [p for p in ("encoder", "decoder") if p in dependence]
    contexts = sorted({c for p in parts for c in dependence[p]["keep_rate"]})
    fig, axes = plt.subplots(len(parts), len(contexts), figsize=(1.9 * len(contexts) + 1, 2.6 * len(parts)),
                             squeeze=False)
    for i, part in enumerate(parts):
        d = dependence[part]
        for j, context in enumerate(contexts):
            ax = axes[i][j]
            rates = d["keep_rate"].get(context)
            if rates is None:
                ax.axis("off")
                continue
            grid, layers, modules = layer_module_grid(d["gates"], rates)
            ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
            ax.set_xticks(range(len(modules)), modules, rotation=60, fontsize=6)
            ax.set_yticks(range(len(layers)), layers if j == 0 else [""] * len(layers), fontsize=6)
            ax.set_title(f"{part}\n{context}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    sentences = []
    for part in parts:
        d = dependence[part]
        rates = np.array(list(d["keep_rate"].values()))
        spread = float(np.max(rates.max(0) - rates.min(0))) if len(rates) else 0.0
        always = sum(bool(np.all(rates[:, g] == 1.0)) for g in range(rates.shape[1]))
        never = sum(bool(np.all(rates[:, g] == 0.0)) for g in range(rates.shape[1]))
        verdict = ("the same modules run in every context" if d["distinct_patterns"] == 1 else
                   f"the pattern changes with the context (largest keep-rate gap between two contexts {spread:.2f})")
        sentences.append(f"{part}: {d['distinct_patterns']} distinct pattern(s) over {d['utterances']} utterances, "
                         f"{always} gate(s) always on and {never} always off; {verdict}")
    return f"Keep rate per layer and module (yellow: always run; purple: always skipped). {'; '.join(sentences)}."


def _series(rows: Sequence[Row], value) -> Dict[str, List[Tuple[float, float]]]:
    lines: Dict[str, List[Tuple[float, float]]] = {}
    for r in rows:
        y = value(r)
        if r.target is None or y is None:
            continue
        label = r.method + ("" if r.gates in ("predicted", "on") else f" ({r.gates.replace('_', ' ')})")
        lines.setdefault(label, []).append((r.target, y))
    return {k: sorted(v) for k, v in lines.items()}


def _best_at(lines: Dict[str, List[Tuple[float, float]]], lower_is_better: bool) -> Optional[Tuple[float, str, float]]:
    """At the highest target every line reached, the best line: (target, label, value)."""
    if not lines:
        return None
    common = set.intersection(*({x for x, _ in pts} for pts in lines.values()))
    x = max(common) if common else max(x for pts in lines.values() for x, _ in pts)
    at = {k: dict(pts)[x] for k, pts in lines.items() if x in dict(pts)}
    best = (min if lower_is_better else max)(at, key=at.get)
    return x, best, at[best]


def curves(rows: Sequence[Row], dense: Optional[Row], path: Path) -> str:
    """Mean WER, mean BLEU and s/utt against the target sparsity, one line per method."""
    passes = timing_passes([*rows, *([dense] if dense else [])])
    latest = passes[-1] if passes else None  # times compare within one pass only
    panels = (("mean ASR WER (%)", lambda r: r.mean_score("asr"), True),
              ("mean ST BLEU", lambda r: r.mean_score("st"), False),
              ("decode s/utt (beam 5, nothing else running)",
               lambda r: r.clean_seconds_per_utt if r.timing_pass == latest else None, True))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    captions = []
    for ax, (ylabel, value, lower) in zip(axes, panels):
        lines = _series(rows, value)
        for label, pts in lines.items():
            ax.plot(*zip(*pts), marker="o", linestyle=":" if "frequent" in label else "-",
                    label=label)
        base = value(dense) if dense is not None else None
        if base is not None:
            ax.axhline(base, color="black", linestyle="--", linewidth=1, label="dense fine-tuning")
        ax.set_xlabel("target sparsity")
        ax.set_ylabel(ylabel)
        best = _best_at(lines, lower)
        if best is not None:
            x, label, y = best
            vs = f" (dense fine-tuning: {base:.3g})" if base is not None else ""
            captions.append(f"{ylabel} at target {x}: best {label}, {y:.3g}{vs}")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    timed = f" Times: the models timed in the pass of {latest} only." if len(passes) > 1 else ""
    return ("Quality and time against the target sparsity (dashed: dense fine-tuning). " + "; ".join(captions) + "."
            + timed)
