"""Straight-through Gumbel-softmax for binary keep/skip gates.

Jang et al., "Categorical Reparameterization with Gumbel-Softmax", ICLR 2017.
The forward pass is always the hard one-hot (exactly 0 or 1, in training too) so
training computes the same graph that inference runs; the backward pass uses the
gradient of the soft relaxation. A plain sigmoid gate does not work here: its
probabilities settle around 0.4-0.6, so training scales modules that inference
then drops completely (Context-aware Dynamic Pruning, ICLR 2025, Sec. 3.3).
"""

from __future__ import annotations

import torch

SKIP, KEEP = 0, 1


def straight_through_gumbel(logits: torch.Tensor, tau: float, noise: bool) -> torch.Tensor:
    """Return the keep value (0.0 or 1.0) per gate, with a soft gradient.

    Args:
        logits: (..., 2) unnormalised scores for (skip, keep).
        tau: softmax temperature of the relaxation (> 0).
        noise: add Gumbel noise (training); without it the decision is the argmax.
    """
    if noise:
        uniform = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-10)
        logits = logits - torch.log(-torch.log(uniform))
    soft = torch.softmax(logits / tau, dim=-1)[..., KEEP]
    hard = (logits[..., KEEP] > logits[..., SKIP]).to(soft.dtype)
    return hard + (soft - soft.detach())  # exactly 0/1 forward


class TemperatureSchedule:
    """Linear annealing of the Gumbel temperature over training updates.

    A high temperature early keeps the soft gradient informative while the gate
    predictor is untrained; annealing towards ``tau_end`` makes the relaxation
    closer to the hard decision actually taken.
    """

    def __init__(self, tau_start: float, tau_end: float, anneal_steps: int) -> None:
        for key, value in (("gumbel_tau_start", tau_start), ("gumbel_tau_end", tau_end)):
            if not value > 0:
                raise ValueError(f"{key} must be > 0, got {value!r}")
        if anneal_steps < 0:
            raise ValueError(f"gumbel_anneal_steps must be >= 0, got {anneal_steps!r}")
        self.tau_start = tau_start
        self.tau_end = tau_end
        self.anneal_steps = anneal_steps

    def __call__(self, step: int) -> float:
        if self.anneal_steps == 0 or step >= self.anneal_steps:
            return self.tau_end
        frac = step / self.anneal_steps
        return self.tau_start + frac * (self.tau_end - self.tau_start)
