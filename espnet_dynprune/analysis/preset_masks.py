"""Masks set at a target sparsity without training: realistic pruned shapes for benchmarks.

Why: a pruned encoder's or decoder's speed depends on the shapes distillation-pruning leaves
(heads with odd, different query/key and value/output widths, FFN and cgMLP layers of different
widths, now and then a whole module gone), and timing them should not need a trained model. So every
prunable unit gets a random score, scaled per module and, for attention, per head (some
modules and heads matter more than others), and the units scoring above one global threshold
are kept; the threshold is bisected until the kept parameters match the request. A module
whose defining units are all removed (an FFN's units, a cgMLP's channels, the attention's
value/output dims) is removed whole, as a trained mask would remove it.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from espnet_dynprune.nets.layers.prunable_part import PrunablePart

#: log_alpha of a kept / removed unit: keep probability 1 - 1e-8 / 1e-8, so the inference
#: masks keep exactly the units chosen (round(expected L0) is their count) at value 1.
KEEP, REMOVE = 20.0, -20.0
Scores = list[dict[str, torch.Tensor]]


def _draw(encoder: PrunablePart, generator: torch.Generator, spread: float) -> Scores:
    """Per layer, a score per unit of every mask: module scale x head scale x uniform."""
    def lognormal(n: int) -> torch.Tensor:
        return torch.exp(spread * torch.randn(n, generator=generator, dtype=torch.float64))

    scores: Scores = []
    for masks in encoder.layer_masks:
        layer: dict[str, torch.Tensor] = {}
        for module in masks.modules_present:
            scale = lognormal(1)
            names = [n for n in masks.module_units[module] if n in masks.masks]
            per_head = module.endswith("attn")
            units = scale * lognormal(masks.heads).repeat_interleave(masks.head_dim) if per_head else scale
            for name in names:
                layer[name] = units * torch.rand(masks.units[name], generator=generator, dtype=torch.float64)
            if module in masks.masks and masks.module_units[module][-1] not in names:
                layer[module] = scale * torch.rand(1, generator=generator, dtype=torch.float64)
        scores.append(layer)
    return scores


def _apply(encoder: PrunablePart, scores: Scores, threshold: float) -> float:
    """Keep the units scoring above ``threshold``; the realised sparsity."""
    for masks, layer in zip(encoder.layer_masks, scores):
        keep = {name: s > threshold for name, s in layer.items()}
        for module, units in masks.module_units.items():
            if module in masks.masks and module not in keep:
                keep[module] = keep[units[-1]].any().reshape(1)
        for name, mask in masks.masks.items():
            mask.set_log_alpha(torch.where(keep[name], KEEP, REMOVE))
    return 1.0 - encoder.kept_params() / encoder.dense_params()


def _bisect(encoder: PrunablePart, scores: Scores, sparsity: float, steps: int) -> tuple[float, float]:
    """(threshold, realised sparsity) closest to ``sparsity``; realised grows with the threshold."""
    low, high = 0.0, max(float(s.max()) for layer in scores for s in layer.values())
    best = (0.0, _apply(encoder, scores, 0.0))
    for _ in range(steps):
        middle = (low + high) / 2
        realised = _apply(encoder, scores, middle)
        if abs(realised - sparsity) < abs(best[1] - sparsity):
            best = (middle, realised)
        if realised < sparsity:
            low = middle
        else:
            high = middle
    return best


@torch.no_grad()
def preset_masks(
    encoder: PrunablePart,
    sparsity: float,
    seed: int = 0,
    spread: float = 0.3,
    tolerance: float = 0.01,
    attempts: int = 8,
    steps: int = 40,
) -> float:
    """Set ``encoder``'s log-alphas so its inference masks remove about ``sparsity`` of the
    prunable parameters, unevenly; returns the realised sparsity (1 - kept / dense params).

    A pure function of the encoder's shapes and ``seed`` (its own generator; the global RNG
    is untouched). Unit counts are discrete and a branch's removal takes the merge's share
    with it, so some draws cannot land within ``tolerance``: up to ``attempts`` draws are
    tried (still determined by ``seed``) and the closest is kept.

    Args:
        encoder: the masked encoder (or decoder); only its masks' log-alphas change.
        sparsity: fraction of the prunable parameters to remove, in [0, 1).
        seed: of the random scores.
        spread: log-normal sigma of the per-module and per-head score scales (0: every
            module keeps about the same fraction; larger: more uneven, more whole modules gone).
        tolerance: accepted |realised - sparsity|.
        attempts: draws tried before settling on the closest.
        steps: bisection steps per draw.
    """
    if not (isinstance(sparsity, (int, float)) and 0.0 <= sparsity < 1.0):
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    if not (spread >= 0.0 and math.isfinite(spread)):
        raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
    if not isinstance(encoder, PrunablePart):
        raise TypeError(f"preset_masks needs an e_branchformer_prunable encoder or a transformer_prunable decoder, "
                        f"got {type(encoder).__name__}")
    generator = torch.Generator().manual_seed(seed)
    best: Optional[tuple[Scores, float, float]] = None
    for _ in range(max(attempts, 1)):
        scores = _draw(encoder, generator, spread)
        threshold, realised = _bisect(encoder, scores, float(sparsity), steps)
        if best is None or abs(realised - sparsity) < abs(best[2] - sparsity):
            best = (scores, threshold, realised)
        if abs(realised - sparsity) <= tolerance:
            break
    scores, threshold, _ = best
    return _apply(encoder, scores, threshold)
