"""``model: magnitude_prune``: unstructured magnitude pruning while fine-tuning, fixed or PARP.

Two baselines of the paper's tables, on ESPnet's S2T model:

- ``reprune_interval: 0``: prune the pretrained weights by global magnitude at the first training
  step, then fine-tune with the mask fixed (pruned weights are zeroed after every update).
- ``reprune_interval: N`` (PARP, Lai et al. 2021): prune the pretrained weights the same way, let
  the pruned weights regrow while fine-tuning, and re-prune by magnitude every N updates. A
  loaded checkpoint (an epoch, or ESPnet's average of the best ones) is pruned once more, so what
  decodes has the target sparsity.

The masks are taken from the weights at the first training forward, that is after ESPnet loaded
``--init_param`` (the pretrained model). Pruned: every Linear of ``prune_parts`` except the
decoder's output layer (vocabulary projection). The zeros do not make the model faster.
"""

from __future__ import annotations

from typing import Dict, List

import torch
from espnet2.s2t.espnet_model import ESPnetS2TModel

from espnet_dynprune.gating.update_counter import count_updates
from espnet_dynprune.models import magnitude_masks

PARTS = ("encoder", "decoder", "both")


class MagnitudePruneS2TModel(ESPnetS2TModel):
    """ESPnet's S2T model whose Linear weights are magnitude-pruned to ``sparsity_target``."""

    def __init__(self, *args, sparsity_target: float = 0.1, prune_parts: str = "both", reprune_interval: int = 0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if prune_parts not in PARTS:
            raise ValueError(f"model_conf prune_parts {prune_parts!r} is not one of {PARTS}")
        if not 0.0 <= sparsity_target < 1.0:
            raise ValueError(f"model_conf sparsity_target must be in [0, 1), got {sparsity_target}")
        if reprune_interval < 0:
            raise ValueError(f"model_conf reprune_interval must be >= 0 (0: fixed mask), got {reprune_interval}")
        self.sparsity_target, self.prune_parts, self.reprune_interval = sparsity_target, prune_parts, reprune_interval
        output = getattr(self.decoder, "output_layer", None)
        self.part_linears: Dict[str, List[torch.nn.Linear]] = {
            p: [m for m in getattr(self, p).modules() if isinstance(m, torch.nn.Linear) and m is not output]
            for p in ("encoder", "decoder") if prune_parts in (p, "both")}
        self.pruned_linears: List[torch.nn.Linear] = [m for ms in self.part_linears.values() for m in ms]
        magnitude_masks.add_masks(self.pruned_linears)
        self.register_buffer("magnitude_ready", torch.zeros(()))  # float: ESPnet averages checkpoints
        self.updates = 0
        count_updates(self, self._after_update)
        self.register_load_state_dict_post_hook(lambda module, keys: self._after_load())

    def prune_now(self) -> None:
        magnitude_masks.prune_globally(self.pruned_linears, self.sparsity_target)
        self.magnitude_ready.fill_(1.0)

    def _after_update(self, _module: torch.nn.Module) -> None:
        self.updates += 1
        if self.reprune_interval == 0:
            magnitude_masks.apply_masks(self.pruned_linears)
        elif self.updates % self.reprune_interval == 0:
            self.prune_now()

    def _after_load(self) -> None:
        if not self.magnitude_ready:  # the pretrained weights (--init_param): pruned at the first step
            return
        if self.reprune_interval == 0:
            magnitude_masks.apply_masks(self.pruned_linears)
        else:
            self.prune_now()

    def weight_sparsity(self) -> Dict[str, float]:
        """Per pruned part, the fraction of its pruned Linear weights that are zero (the decoded model's
        realised sparsity: a PARP checkpoint is re-pruned when it loads)."""
        return {p: magnitude_masks.zero_fraction(linears) for p, linears in self.part_linears.items()}

    def forward(self, *args, **kwargs):
        if self.training and not self.magnitude_ready:
            self.prune_now()
        loss, stats, weight = super().forward(*args, **kwargs)
        stats["magnitude_sparsity"] = torch.tensor(magnitude_masks.zero_fraction(self.pruned_linears))
        return loss, stats, weight
