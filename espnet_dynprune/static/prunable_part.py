"""What the masked (prunable) encoder and decoder share: their layers' masks and sizes."""

from __future__ import annotations

from typing import Sequence

import torch

from espnet_dynprune.static.layer_masks import UnitMasks


class PrunablePart:
    """Mixin for an ESPnet encoder or decoder whose layers run under ``self.layer_masks``.

    ``keep_hidden`` (1-based layers) says which layer outputs ``forward`` keeps in ``hidden``,
    for the layer-wise distillation.
    """

    layer_masks: Sequence[UnitMasks]

    def _init_masks(self, layer_masks: Sequence[UnitMasks]) -> None:
        self.layer_masks = torch.nn.ModuleList(layer_masks)
        self._dense_params = sum(m.dense_params() for m in self.layer_masks)
        self.keep_hidden: tuple[int, ...] = ()
        self.hidden: dict[int, torch.Tensor] = {}

    def dense_params(self) -> int:
        """Prunable parameters of the unpruned part."""
        return self._dense_params

    def expected_params(self) -> torch.Tensor:
        """Expected prunable parameters under the masks (differentiable)."""
        return torch.stack([m.expected_params() for m in self.layer_masks]).sum()

    def layer_sizes(self) -> list:
        """What the inference masks keep, per layer (the export's ``layer_sizes``)."""
        return [m.sizes() for m in self.layer_masks]

    def kept_params(self) -> int:
        """Prunable parameters the inference masks keep (what the export will hold)."""
        return sum(m.sizes_params(s) for m, s in zip(self.layer_masks, self.layer_sizes()))
