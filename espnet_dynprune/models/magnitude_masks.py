"""Unstructured magnitude pruning of Linear weights: one global L1 threshold over many layers.

The paper's unstructured baselines: remove the fraction ``amount`` of the smallest-magnitude
weights over all given Linear layers together (``torch.nn.utils.prune.global_unstructured`` with
``L1Unstructured``), so layers whose weights are small lose more. The mask is made permanent at
once (``prune.remove``: the zeros are in ``weight``, the state-dict keys stay ESPnet's) and kept
as each layer's ``magnitude_mask`` buffer for fixed-mask fine-tuning. Zeros save no time on a
CPU or GPU dense kernel: such a model runs at dense speed.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
from torch.nn.utils import prune

MASK = "magnitude_mask"


def add_masks(linears: Sequence[torch.nn.Linear]) -> None:
    """Give each layer an all-ones ``magnitude_mask`` buffer (saved with the model)."""
    for linear in linears:
        linear.register_buffer(MASK, torch.ones_like(linear.weight))


@torch.no_grad()
def prune_globally(linears: Sequence[torch.nn.Linear], amount: float) -> None:
    """Zero the ``amount`` smallest |weights| over all ``linears``; store the masks."""
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"magnitude pruning amount must be in [0, 1), got {amount}")
    prune.global_unstructured([(m, "weight") for m in linears], pruning_method=prune.L1Unstructured, amount=amount)
    for linear in linears:
        getattr(linear, MASK).copy_(linear.weight_mask)
        prune.remove(linear, "weight")


@torch.no_grad()
def apply_masks(linears: Sequence[torch.nn.Linear]) -> None:
    """Zero again what the masks removed (after an update moved it)."""
    for linear in linears:
        linear.weight.mul_(getattr(linear, MASK))


def zero_fraction(linears: Sequence[torch.nn.Linear]) -> float:
    """Realised sparsity: the fraction of the layers' weights that are exactly zero."""
    weights: List[torch.Tensor] = [m.weight for m in linears]
    total = sum(w.numel() for w in weights)
    if not total:
        return 0.0
    return float(torch.stack([(w == 0).sum() for w in weights]).sum()) / total  # one host sync
