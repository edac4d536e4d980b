"""One stock ``EBranchformerEncoderLayer`` under static pruning's masks: its units, masks, forward and export.

Units (:mod:`~espnet_dynprune.nets.layers.prunable_units`; ``encoder_conf: prune_groups``): the
macaron FFN (``ffn1``), the attention (``attn``), the cgMLP (``cgmlp``) and the FFN (``ffn2``).
The merge of the two branches is the layer's own: it is not masked, but it reads only the branches
left. A removed branch feeds zeros to the merge in the masked layer; the merge's depthwise conv
turns zeros into its bias, a constant, which export folds into ``merge_proj``'s bias. The final
norm is not prunable and not counted. Only ``attention_layer_type: selfattn`` with absolute
positions is supported.
"""

from __future__ import annotations

from typing import Collection

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer

from espnet_dynprune.nets.espnet_compat import mask_padded_frames
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes
from espnet_dynprune.nets.layers.prunable_units import (
    Attention,
    ConvGatingMLP,
    FeedForward,
    Number,
    State,
    UnitMasks,
    Values,
)

GROUPS = ("attn_qk", "attn_vo", "attn", "ffn_units", "ffn", "cgmlp_channels", "cgmlp")
FFN1 = FeedForward("ffn1", "norm_ff_macaron", "feed_forward_macaron")
ATTN = Attention("attn", "norm_mha")
CGMLP = ConvGatingMLP("cgmlp", "norm_mlp")
FFN2 = FeedForward("ffn2", "norm_ff", "feed_forward")


def merge_params(d: int, merge_kernel: int, branches: Number) -> Number:
    """The merge's depthwise conv and projection over ``branches`` branch outputs."""
    return branches * d * (merge_kernel + 1) + branches * d * d + d


def layer_units(layer: EBranchformerEncoderLayer) -> list:
    """The units this layer has (ESPnet leaves out FFN1 without ``macaron_ffn``, both FFNs without ``use_ffn``)."""
    return [ATTN, CGMLP, *(ffn for ffn in (FFN1, FFN2) if ffn.module(layer) is not None)]


class LayerMasks(UnitMasks):
    """Masks over one stock ``EBranchformerEncoderLayer`` (which it does not own).

    Args:
        layer: the layer whose units are masked (read for its shapes only).
        groups: which mask groups to learn (``encoder_conf: prune_groups``).
        init_keep, straight_through, lr_scale: as :class:`UnitMasks`.
    """

    sizes_class = LayerSizes

    def __init__(
        self, layer: EBranchformerEncoderLayer, groups: Collection[str], init_keep: float,
        straight_through: bool, lr_scale: float,
    ) -> None:  # fmt: skip
        super().__init__(layer, layer_units(layer), groups, GROUPS, "encoder_conf", init_keep, straight_through,
                         lr_scale)
        self.merge_kernel = layer.depthwise_conv_fusion.kernel_size[0]

    def _rest_params(self, alive: dict[str, Number]) -> Number:
        return merge_params(self.d, self.merge_kernel, alive["attn"] + alive["cgmlp"])

    def _rest_state(self, state: State, layer: EBranchformerEncoderLayer, sizes: LayerSizes) -> None:
        """The merge channels of the branches left, the removed ones' constant folded; the final norm."""
        d = layer.size
        channels = torch.arange(2 * d)
        keep = torch.tensor((sizes.has_attention, bool(sizes.cgmlp_channels))).repeat_interleave(d)
        index, removed = channels[keep], channels[~keep]
        conv, proj = layer.depthwise_conv_fusion, layer.merge_proj
        bias = proj.bias + proj.weight[:, removed] @ conv.bias[removed]
        if index.numel():
            state["depthwise_conv_fusion.weight"] = conv.weight[index]
            state["depthwise_conv_fusion.bias"] = conv.bias[index]
            state["merge_proj.weight"] = proj.weight[:, index]
            state["merge_proj.bias"] = bias
        else:
            state["merge_bias"] = bias
        for name in ("weight", "bias"):
            state[f"norm_final.{name}"] = getattr(layer.norm_final, name)


def masked_layer_forward(layer: EBranchformerEncoderLayer, x: torch.Tensor, mask: torch.Tensor, values: Values) -> torch.Tensor:
    """One layer under mask ``values`` (:meth:`LayerMasks.values`); (B, T, D) -> (B, T, D)."""
    if layer.feed_forward_macaron is not None:
        x = FFN1.residual(layer, x, values, layer.ff_scale)
    both = torch.cat([layer.dropout(ATTN.output(layer, x, mask, values)),
                      layer.dropout(CGMLP.output(layer, x, mask, values))], dim=-1)
    fused = layer.depthwise_conv_fusion(mask_padded_frames(both.transpose(1, 2), mask)).transpose(1, 2)
    x = x + layer.dropout(layer.merge_proj(both + fused))
    if layer.feed_forward is not None:
        x = FFN2.residual(layer, x, values, layer.ff_scale)
    return layer.norm_final(x)
