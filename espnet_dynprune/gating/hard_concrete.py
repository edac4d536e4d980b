"""Hard-concrete (L0) masks: the learnable keep/remove decisions of static structured pruning.

Louizos, Welling and Kingma, "Learning Sparse Neural Networks through L0 Regularization", ICLR
2018, as task-agnostic structured pruning uses them (Peng et al., arXiv 2306.01385): one
``log_alpha`` per prunable unit (a head dimension, an FFN unit, a whole module). In training a
mask value is drawn from a stretched, clamped concrete distribution, so it is exactly 0 or 1
with non-zero probability and still differentiable in ``log_alpha``; its expected number of
non-zero units (the expected L0 norm) is known in closed form, which lets a model compute its
expected size. At inference the mask is deterministic and keeps the expected number of units.

Why a straight-through option: for a mask over a WHOLE module the sample sits in the clamp's
flat region (0 or 1) most of the time, where the clamp passes no gradient, so ``log_alpha``
stops moving and whole modules are never pruned; passing the gradient straight through the
clamp (Peng et al.'s second mechanism) keeps them learning. The module knows nothing of the model
it masks: it only makes mask values.

Why ``lr_scale``: ESPnet trains every parameter with one optimiser and one learning rate, a
fine-tuning one (1e-4 ... 1e-3), but a mask's ``log_alpha`` has to travel several units to
switch a unit off; L0 pruning recipes give masks a ~100x larger rate. The parameter stored is
``log_alpha / lr_scale``, so under Adam(W), whose steps do not depend on the gradient's scale,
``log_alpha`` moves ``lr_scale`` times faster than the network's weights.
"""

from __future__ import annotations

import math

import torch


class HardConcrete(torch.nn.Module):
    """Masks for ``num_units`` units.

    Args:
        num_units: how many units the mask covers.
        init_keep: initial probability that a unit's mask is non-zero (0.99: about 1% of the
            units start removed).
        temperature: of the concrete distribution (2/3 in the L0 papers).
        stretch: the interval (l, r), l < 0 and r > 1, the sample is stretched to before the
            clamp to [0, 1]; the overhang is what makes exact 0s and 1s likely.
        straight_through: pass the gradient through the clamp (for whole-module masks).
        lr_scale: how much faster than the network's weights ``log_alpha`` learns under Adam.
    """

    def __init__(
        self,
        num_units: int,
        init_keep: float = 0.99,
        temperature: float = 2.0 / 3.0,
        stretch: tuple[float, float] = (-0.1, 1.1),
        straight_through: bool = False,
        lr_scale: float = 1.0,
    ) -> None:
        super().__init__()
        low, high = stretch
        if num_units < 1:
            raise ValueError(f"a hard-concrete mask needs at least one unit, got num_units={num_units}")
        if not 0.0 < init_keep < 1.0:
            raise ValueError(f"init_keep must be in (0, 1), got {init_keep!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if not (low < 0.0 and high > 1.0):
            raise ValueError(f"stretch must be (l, r) with l < 0 < 1 < r, got {stretch!r}")
        if not lr_scale > 0:
            raise ValueError(f"lr_scale must be > 0, got {lr_scale!r}")
        self.temperature, self.low, self.high = temperature, low, high
        self.straight_through, self.lr_scale = straight_through, lr_scale
        # P(mask > 0) = sigmoid(log_alpha - temperature * log(-l / r)): solve for init_keep.
        start = math.log(init_keep / (1.0 - init_keep)) + self._shift
        self.scaled_log_alpha = torch.nn.Parameter(torch.full((num_units,), start / lr_scale))

    @property
    def log_alpha(self) -> torch.Tensor:
        """(N,) the units' log-odds (differentiable)."""
        return self.scaled_log_alpha * self.lr_scale

    @torch.no_grad()
    def set_log_alpha(self, values: torch.Tensor | float) -> None:
        """Set the log-odds (tests, analysis)."""
        self.scaled_log_alpha.copy_(torch.as_tensor(values, dtype=self.scaled_log_alpha.dtype) / self.lr_scale)

    @property
    def _shift(self) -> float:
        return self.temperature * math.log(-self.low / self.high)

    @property
    def num_units(self) -> int:
        return self.scaled_log_alpha.numel()

    def keep_probability(self) -> torch.Tensor:
        """(N,) probability that each unit's mask is non-zero (differentiable)."""
        return torch.sigmoid(self.log_alpha - self._shift)

    def expected_l0(self) -> torch.Tensor:
        """Expected number of units kept: what a model's expected size is computed from."""
        return self.keep_probability().sum()

    def forward(self) -> torch.Tensor:
        """(N,) mask values: sampled in training, deterministic in eval (see :meth:`eval_mask`)."""
        if not self.training:
            return self.eval_mask()
        uniform = torch.rand_like(self.scaled_log_alpha).clamp(1e-6, 1.0 - 1e-6)
        logits = (torch.log(uniform) - torch.log1p(-uniform) + self.log_alpha) / self.temperature
        stretched = torch.sigmoid(logits) * (self.high - self.low) + self.low
        clamped = stretched.clamp(0.0, 1.0)
        if self.straight_through:
            return stretched + (clamped - stretched).detach()  # clamp forward, identity backward
        return clamped

    @torch.no_grad()
    def eval_mask(self) -> torch.Tensor:
        """The inference mask: the round(expected L0) units with the largest ``log_alpha`` keep
        their stretched mean value (clamped to [0, 1]); every other unit is exactly 0."""
        log_alpha = self.log_alpha
        values = (torch.sigmoid(log_alpha) * (self.high - self.low) + self.low).clamp(0.0, 1.0)
        num_removed = self.num_units - int(round(float(self.expected_l0())))
        if num_removed > 0:
            values[log_alpha.topk(num_removed, largest=False).indices] = 0.0
        return values
