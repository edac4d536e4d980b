"""E-Branchformer encoder with hard-concrete masks: the student of static structured pruning.

Registered as ``encoder: e_branchformer_prunable``. Every ``encoder_conf`` key of ESPnet's
``e_branchformer`` keeps its meaning and its state-dict keys (``--init_param`` loads the unpruned
model as is, the masks start almost fully kept), plus ``layer_masks.*`` for the masks. After
distillation-pruning, :func:`export_encoder` turns it into the smaller
``encoder: e_branchformer_pruned``. The conv2d subsampling front and the final norm are not pruned
(they are a small, fixed share of the compute).

Mask values are drawn once per forward pass per layer, outside gradient checkpointing, so a
recomputed layer sees the same masks.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from typeguard import typechecked

from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder, check_prunable_conf
from espnet_dynprune.nets.encoder_steps import checkpointed, embed
from espnet_dynprune.nets.espnet_compat import make_pad_mask
from espnet_dynprune.nets.layers.e_branchformer_prunable_layer import GROUPS, LayerMasks, masked_layer_forward
from espnet_dynprune.nets.layers.prunable_part import PrunablePart


class EBranchformerPrunableEncoder(EBranchformerEncoder, PrunablePart):
    """ESPnet's E-Branchformer encoder whose layers run under learnable masks.

    Args:
        input_size: input feature dimension.
        prune_groups: mask groups to learn: any of ``attn_qk``, ``attn_vo``, ``attn``,
            ``ffn_units``, ``ffn``, ``cgmlp_channels``, ``cgmlp`` (default: all).
        mask_init_keep: initial keep probability of every unit.
        mask_straight_through: whole-module masks pass the gradient straight through their
            clamp (without it they saturate and whole modules are never removed).
        mask_lr_scale: how much faster than the weights the masks learn under Adam(W).
        **kwargs: ESPnet's ``e_branchformer`` keys.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        prune_groups: Sequence[str] = GROUPS,
        mask_init_keep: float = 0.99,
        mask_straight_through: bool = True,
        mask_lr_scale: float = 100.0,
        **kwargs,
    ) -> None:
        check_prunable_conf(kwargs, "e_branchformer_prunable")
        for key in ("layer_drop_rate", "interctc_layer_idx"):
            if kwargs.get(key):
                raise ValueError(f"encoder: e_branchformer_prunable does not support encoder_conf {key} "
                                 f"(got {kwargs[key]!r}): every layer must run for its masks to learn")
        super().__init__(input_size, **kwargs)
        self.input_size, self.espnet_conf = input_size, dict(kwargs)
        self._init_masks([LayerMasks(layer, prune_groups, mask_init_keep, mask_straight_through, mask_lr_scale)
                          for layer in self.encoders])

    def stock(self) -> EBranchformerEncoder:
        return EBranchformerEncoder(self.input_size, **self.espnet_conf)

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: torch.Tensor = None,
        masks: torch.Tensor = None,
        ctc=None,
        max_layer: int = None,
        return_all_hs: bool = False,
    ):
        """As ESPnet's ``EBranchformerEncoder.forward``, each layer under its masks."""
        masks = (~make_pad_mask(ilens)[:, None, :]).to(xs_pad.device) if masks is None else ~masks[:, None, :]
        x, masks = checkpointed(self, 0, embed, self, xs_pad, masks)
        self.hidden = {}
        intermediate = []
        for i, (layer, layer_masks) in enumerate(zip(self.encoders, self.layer_masks)):
            if max_layer is not None and i >= max_layer:
                break
            values = layer_masks.values()
            x = checkpointed(self, i + 1, partial(masked_layer_forward, layer), x, masks, values=values)
            if i + 1 in self.keep_hidden:
                self.hidden[i + 1] = x
            if return_all_hs:
                intermediate.append(x)
        x = self.after_norm(x)
        olens = masks.squeeze(1).sum(1)
        return ((x, intermediate) if intermediate else x), olens, None


@torch.no_grad()
def export_encoder(encoder: EBranchformerPrunableEncoder) -> EBranchformerPrunedEncoder:
    """The smaller encoder computing what ``encoder`` computes in eval (its inference masks)."""
    if not isinstance(encoder, EBranchformerPrunableEncoder):
        raise TypeError(f"only an e_branchformer_prunable encoder has masks to export, got {type(encoder).__name__}")
    return encoder._exported("encoders", lambda sizes: EBranchformerPrunedEncoder(
        encoder.input_size, layer_sizes=sizes, **encoder.espnet_conf))
