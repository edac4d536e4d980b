"""Forced gate patterns for inference: all on, all off, a given mask, a sparsity.

Benchmarks and ablations need to run a trained (or random) model at a chosen
pattern instead of the predicted one. A forced target sparsity skips, for each
utterance, the k = round(s * G) gates the predictor is least keen to keep, so
it follows the predictor's ranking rather than an arbitrary order.
"""

from __future__ import annotations

from typing import Union

import torch

ForceSpec = Union[None, str, float, torch.Tensor]


class GateForcing:
    """One forced pattern.

    Args:
        spec: ``"on"`` (dense), ``"off"`` (skip every gated module), a float
            sparsity in [0, 1], or a bool/0-1 tensor of shape (G,) or (B, G)
            with 1 = keep.
        num_gates: G, the number of gates of the part being forced.
    """

    def __init__(self, spec: Union[str, float, torch.Tensor], num_gates: int) -> None:
        self.num_gates = num_gates
        if isinstance(spec, str):
            if spec not in ("on", "off"):
                raise ValueError(f"gate pattern {spec!r} is not one of 'on', 'off'")
        elif isinstance(spec, torch.Tensor):
            if spec.dim() not in (1, 2) or spec.size(-1) != num_gates:
                raise ValueError(
                    f"gate mask of shape {tuple(spec.shape)} must be (G,) or (B, G) "
                    f"with G = {num_gates}"
                )
            spec = spec.detach().bool()
        elif isinstance(spec, (float, int)) and not isinstance(spec, bool):
            if not 0.0 <= float(spec) <= 1.0:
                raise ValueError(f"forced sparsity must be in [0, 1], got {spec!r}")
            spec = float(spec)
        else:
            raise TypeError(f"cannot force gates with {spec!r}")
        self.spec = spec

    @property
    def needs_scores(self) -> bool:
        return isinstance(self.spec, float)

    def keep(
        self, batch_size: int, device: torch.device, scores: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, G) float keep values (no gradient).

        Args:
            scores: (B, G) keep preference (keep logit minus skip logit); needed
                for a forced sparsity.
        """
        shape = (batch_size, self.num_gates)
        if isinstance(self.spec, torch.Tensor) and self.spec.dim() == 2 and self.spec.size(0) != batch_size:
            raise ValueError(
                f"a forced (B, G) gate mask has B = {self.spec.size(0)} rows but the batch has "
                f"{batch_size} utterance(s); force a (G,) mask to give every utterance the same pattern"
            )
        if self.spec == "on":
            return torch.ones(shape, device=device)
        if self.spec == "off":
            return torch.zeros(shape, device=device)
        if isinstance(self.spec, torch.Tensor):
            return self.spec.to(device=device, dtype=torch.float32).expand(shape).clone()
        if scores is None:
            raise ValueError("a forced sparsity needs a gate predictor to rank the modules")
        num_skip = round(self.spec * self.num_gates)
        keep = torch.ones(shape, device=device)
        if num_skip > 0:
            lowest = scores.detach().topk(num_skip, dim=1, largest=False).indices
            keep.scatter_(1, lowest, 0.0)
        return keep
