"""Sparsity of a gate pattern and the penalty that drives it to a target.

Realised sparsity is the fraction of gated modules skipped. The squared penalty
(realised - target)^2 pulls training towards the YAML target from both sides,
so one run lands near one target instead of overshooting it.
"""

from __future__ import annotations

import torch


def check_sparsity_target(value: float, key: str = "sparsity_target") -> float:
    """Return ``value`` if it is a valid target in [0, 1), else raise naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{key} must be a number in [0, 1), got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{key} must be in [0, 1), got {value!r}")
    return float(value)


def sparsity_loss(realised: torch.Tensor, target: float) -> torch.Tensor:
    """Squared distance of the realised sparsity from its target."""
    return (realised - target) ** 2


def cost_weighted_sparsity(skipped: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    """Fraction of the gateable compute skipped, averaged over the batch.

    Args:
        skipped: (B, N) 1 where a unit of work is skipped, else 0.
        costs: (N,) or (B, N) compute of each unit (e.g. MACs).
    """
    costs = costs.to(skipped.dtype).expand_as(skipped)
    return ((skipped * costs).sum(1) / costs.sum(1).clamp(min=1e-12)).mean()
