"""What the prunable encoder and decoder share: their layers' masks, sizes, and the export into the smaller part."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from espnet_dynprune.nets.layers.prunable_units import UnitMasks


class PrunablePart:
    """Mixin for an ESPnet encoder or decoder whose layers run under ``self.layer_masks``.

    ``keep_hidden`` (1-based layers) says which layer outputs ``forward`` keeps in ``hidden``,
    for the layer-wise distillation. ``residual_stream``: those outputs are a pre-norm residual
    stream (Whisper's encoder, ESPnet's Transformer decoder), whose scale grows with depth and
    whose few very large dimensions the next norm divides away; the distillation compares them
    layer-normalised, as what reads them sees them.
    """

    layer_masks: Sequence[UnitMasks]
    residual_stream: bool = False

    def _init_masks(self, layer_masks: Sequence[UnitMasks]) -> None:
        self.layer_masks = torch.nn.ModuleList(layer_masks)
        self._dense_params = sum(m.dense_params() for m in self.layer_masks)
        self.keep_hidden: tuple[int, ...] = ()
        self.hidden: dict[int, torch.Tensor] = {}

    def stock(self) -> torch.nn.Module:
        """A new unmasked part of the same architecture: ESPnet's class, its weights to be loaded
        (the teacher of the distillation)."""
        raise NotImplementedError

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

    @torch.no_grad()
    def _exported(self, layers: str, build: Callable[[list[dict]], torch.nn.Module]) -> torch.nn.Module:
        """The smaller part: ``build(layer_sizes)`` loaded with what the inference masks keep of each
        layer (``layers``: the path of the layer list, ``encoders.blocks`` say) and everything outside
        the layers as is."""
        state = {k: v for k, v in self.state_dict().items() if not k.startswith((f"{layers}.", "layer_masks."))}
        layer_sizes = []
        for i, (layer, masks) in enumerate(zip(self.get_submodule(layers), self.layer_masks)):
            sizes, kept = masks.pruned_state(layer)
            layer_sizes.append(sizes.as_dict())
            state.update({f"{layers}.{i}.{k}": v for k, v in kept.items()})
        pruned = build(layer_sizes)
        pruned.load_state_dict(state)
        return pruned.train(self.training)
