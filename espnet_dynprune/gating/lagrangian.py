"""Drive a model's expected sparsity to a target with a learned Lagrangian (static pruning).

Task-agnostic structured pruning (Peng et al., arXiv 2306.01385, after Wang et al.'s CoFi)
adds ``lambda1 (s - t) + lambda2 (s - t)^2`` to the loss, where ``s`` is the expected fraction of
prunable parameters removed (from the hard-concrete masks' expected L0) and ``t`` the target,
warmed up linearly from 0 so the network is not cut before distillation has started. The two
multipliers are trained by gradient ASCENT: the further the sparsity is from the target, the
larger the penalty grows, which a fixed weight cannot do. Here their gradient is negated by a
hook, so one ordinary optimiser (ESPnet's) minimises over the network and maximises over the
multipliers in the same step.

On small data the sparsity is known to overshoot the target; :meth:`check_overshoot` reports it.
"""

from __future__ import annotations

import logging

import torch


class LagrangianSparsity(torch.nn.Module):
    """The sparsity term of the loss, with its two learned multipliers.

    Args:
        target: fraction of prunable parameters to remove, in [0, 1).
        warmup_steps: updates over which the target rises linearly from 0 (0: at once).
        overshoot_tolerance: how far past the (warmed-up) target the sparsity may go before
            :meth:`check_overshoot` reports it.
    """

    def __init__(self, target: float, warmup_steps: int = 0, overshoot_tolerance: float = 0.05) -> None:
        super().__init__()
        if not 0.0 <= target < 1.0:
            raise ValueError(f"the sparsity target must be in [0, 1), got {target!r}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}")
        self.target, self.warmup_steps, self.overshoot_tolerance = target, warmup_steps, overshoot_tolerance
        self.lambda1 = torch.nn.Parameter(torch.zeros(()))
        self.lambda2 = torch.nn.Parameter(torch.zeros(()))
        for multiplier in (self.lambda1, self.lambda2):
            multiplier.register_hook(torch.neg)  # gradient ascent under any minimising optimiser

    def target_at(self, step: int) -> float:
        """The target after ``step`` updates (linear warm-up)."""
        if self.warmup_steps == 0 or step >= self.warmup_steps:
            return self.target
        return self.target * step / self.warmup_steps

    def forward(self, expected_sparsity: torch.Tensor, step: int) -> torch.Tensor:
        """``lambda1 (s - t) + lambda2 (s - t)^2`` at ``step``; add it to the loss."""
        gap = expected_sparsity - self.target_at(step)
        return self.lambda1 * gap + self.lambda2 * gap * gap

    def check_overshoot(self, expected_sparsity: float, step: int) -> bool:
        """True, with a warning, when the sparsity has passed the target by more than the tolerance."""
        target = self.target_at(step)
        if expected_sparsity <= target + self.overshoot_tolerance:
            return False
        logging.warning(
            f"sparsity {expected_sparsity:.3f} overshoots the target {target:.3f} at update {step} "
            f"(known on small data): consider a longer warm-up or more data"
        )
        return True
