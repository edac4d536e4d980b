"""Drive a model's expected sparsity to a target with a learned Lagrangian (static pruning).

Task-agnostic structured pruning (Peng et al., arXiv 2306.01385, after Wang et al.'s CoFi)
adds ``lambda1 (s - t) + lambda2 (s - t)^2`` to the loss, where ``s`` is the expected fraction of
prunable parameters removed (from the hard-concrete masks' expected L0) and ``t`` the target,
warmed up linearly from 0 so the network is not cut before distillation has started. The two
multipliers are trained by gradient ASCENT: the further the sparsity is from the target, the
larger the penalty grows, which a fixed weight cannot do. Here their gradient is negated by a
hook, so one ordinary optimiser (ESPnet's) minimises over the network and maximises over the
multipliers in the same step.

``lr_scale`` lets the multipliers learn faster than the network under one Adam(W) optimiser,
as :class:`~espnet_dynprune.gating.hard_concrete.HardConcrete` does for the masks.

On small data the sparsity is known to overshoot the target; :meth:`check_overshoot` reports it.
"""

from __future__ import annotations

import logging

import torch

from espnet_dynprune.gating.update_counter import count_updates


class LagrangianSparsity(torch.nn.Module):
    """The sparsity term of the loss, with its two learned multipliers.

    Args:
        target: fraction of prunable parameters to remove, in [0, 1).
        warmup_steps: updates over which the target rises linearly from 0 (0: at once).
        overshoot_tolerance: how far past the (warmed-up) target the sparsity may go before
            :meth:`check_overshoot` reports it.
        lr_scale: how much faster than the network's weights the multipliers learn under Adam.
    """

    def __init__(
        self, target: float, warmup_steps: int = 0, overshoot_tolerance: float = 0.05, lr_scale: float = 1.0
    ) -> None:
        super().__init__()
        if not 0.0 <= target < 1.0:
            raise ValueError(f"the sparsity target must be in [0, 1), got {target!r}")
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}")
        if not lr_scale > 0:
            raise ValueError(f"lr_scale must be > 0, got {lr_scale!r}")
        self.target, self.warmup_steps, self.overshoot_tolerance = target, warmup_steps, overshoot_tolerance
        self.lr_scale = lr_scale
        self.scaled_lambdas = torch.nn.Parameter(torch.zeros(2))  # (lambda1, lambda2) / lr_scale
        self.scaled_lambdas.register_hook(torch.neg)  # gradient ascent under any minimising optimiser
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))  # resumes with the model
        count_updates(self, _count_update)
        self._overshooting = False

    @property
    def lambda1(self) -> torch.Tensor:
        return self.scaled_lambdas[0] * self.lr_scale

    @property
    def lambda2(self) -> torch.Tensor:
        return self.scaled_lambdas[1] * self.lr_scale

    @property
    def step(self) -> int:
        """Optimiser updates of the multipliers so far (the warm-up's clock)."""
        return int(self.num_updates)

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
        """True when the sparsity has passed the target by more than the tolerance; warns when
        it starts to (once per episode, not at every step of it)."""
        target = self.target_at(step)
        overshooting = expected_sparsity > target + self.overshoot_tolerance
        if overshooting and not self._overshooting:
            logging.warning(
                f"sparsity {expected_sparsity:.3f} overshoots the target {target:.3f} at update {step} "
                f"(known on small data): consider a longer warm-up or more data"
            )
        self._overshooting = overshooting
        return overshooting

def _count_update(term: LagrangianSparsity) -> None:
    term.num_updates += 1
