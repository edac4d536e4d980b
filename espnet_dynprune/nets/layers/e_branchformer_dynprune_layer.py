"""Gated forward pass over a stock ESPnet ``EBranchformerEncoderLayer``.

The layer object (and so its state-dict keys) is ESPnet's own; only the order
of calls is taken over, so each sub-module can be skipped per utterance:

- FFN1 (macaron) and FFN2 have their own residual: skipped = identity. A layer
  built with ``use_ffn: false`` has neither, one with ``macaron_ffn: false`` only
  FFN2 (ESPnet's single feed-forward module after the merge): only the modules a
  layer has are gated (:func:`layer_module_types`).
- Self-attention and cgMLP are parallel branches meeting in the merge
  (depthwise conv + projection), which carries the residual. When one branch
  is skipped, the merge sees zeros in that half of its input (its conv and
  projection biases still add); when both are skipped the merge is skipped too
  and the layer's input passes through unchanged.
- The final LayerNorm is not gated (it is not a residual module and costs
  next to nothing), so a layer with all four modules skipped still normalises.
- A statically pruned layer (:class:`~espnet_dynprune.nets.layers.e_branchformer_pruned_layer.PrunedEBranchformerLayer`)
  gates the modules it kept; its merge reads only the branches it kept.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer
from espnet2.asr.layers.fastformer import FastSelfAttention

from espnet_dynprune.gating.decision import GateDecision, RowSet
from espnet_dynprune.gating.row_dispatch import gated_branch, gated_residual, take_rows
from espnet_dynprune.nets.espnet_compat import mask_padded_frames
from espnet_dynprune.nets.layers.e_branchformer_pruned_layer import PrunedEBranchformerLayer
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention

FFN1, ATTN, CGMLP, FFN2 = "ffn1", "attn", "cgmlp", "ffn2"
MODULE_TYPES = (FFN1, ATTN, CGMLP, FFN2)
GateOf = Callable[[str], int]


def layer_module_types(layer: EBranchformerEncoderLayer) -> tuple[str, ...]:
    """The gateable modules ``layer`` has, in execution order (2, 3 or 4 of them)."""
    present = {
        FFN1: layer.feed_forward_macaron is not None,
        ATTN: layer.attn is not None,
        CGMLP: layer.cgmlp is not None,
        FFN2: layer.feed_forward is not None,
    }
    return tuple(m for m in MODULE_TYPES if present[m])


def _feed_forward(norm: torch.nn.Module, ffn: torch.nn.Module, dropout: torch.nn.Module):
    return lambda h: dropout(ffn(norm(h)))


def _attention(layer: EBranchformerEncoderLayer):
    def run(h: torch.Tensor, mask: torch.Tensor, pos_emb: Optional[torch.Tensor]) -> torch.Tensor:
        h = layer.norm_mha(h)
        if isinstance(layer.attn, FastSelfAttention):
            return layer.dropout(layer.attn(h, mask))
        if pos_emb is None:
            return layer.dropout(layer.attn(h, h, h, mask))
        return layer.dropout(layer.attn(h, h, h, pos_emb, mask))

    return run


def _cgmlp(layer: EBranchformerEncoderLayer):
    def run(h: torch.Tensor, mask: torch.Tensor, pos_emb: Optional[torch.Tensor]) -> torch.Tensor:
        h = layer.norm_mlp(h)
        out = layer.cgmlp(h if pos_emb is None else (h, pos_emb), mask)
        return layer.dropout(out[0] if isinstance(out, tuple) else out)

    return run


def _merge(layer: EBranchformerEncoderLayer, outs: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, PrunedEBranchformerLayer):
        return layer.merge(outs, outs[0], mask)
    both = torch.cat(outs, dim=-1)
    fused = layer.depthwise_conv_fusion(mask_padded_frames(both.transpose(1, 2), mask)).transpose(1, 2)
    return layer.dropout(layer.merge_proj(both + fused))


def module_gated_forward(
    layer: EBranchformerEncoderLayer,
    x: torch.Tensor,
    mask: torch.Tensor,
    pos_emb: Optional[torch.Tensor],
    decision: GateDecision,
    gate_of: GateOf,
) -> torch.Tensor:
    """One layer with FFN1 / attention / cgMLP / FFN2 gated separately."""
    zero = not decision.skip_rows
    device = x.device

    def unit(name: str) -> tuple[RowSet, torch.Tensor]:
        return decision.rows(gate_of(name)), decision.value(gate_of(name))

    if layer.feed_forward_macaron is not None:
        rows, value = unit(FFN1)
        x = gated_residual(
            x, rows, value,
            _feed_forward(layer.norm_ff_macaron, layer.feed_forward_macaron, layer.dropout),
            scale=layer.ff_scale, zero_skipped=zero,
            owners=(layer.norm_ff_macaron, layer.feed_forward_macaron),
        )

    branches = [(name, run, owners) for name, run, owners in (
        (ATTN, _attention(layer), (layer.norm_mha, layer.attn)),
        (CGMLP, _cgmlp(layer), (layer.norm_mlp, layer.cgmlp)),
    ) if name in layer_module_types(layer)]  # fmt: skip
    if not branches:  # both removed by static pruning: the merge is a constant
        x = x + layer.merge([], x, mask)
    else:
        units = {name: unit(name) for name, _, _ in branches}
        merge_rows = units[branches[0][0]][0]
        for rows, _ in list(units.values())[1:]:
            merge_rows = merge_rows.union(rows, device)

        def branches_and_merge(h: torch.Tensor, m: torch.Tensor, p: Optional[torch.Tensor]) -> torch.Tensor:
            outs = [
                gated_branch(h, units[name][0].within(merge_rows, device), take_rows(merge_rows, units[name][1]),
                             run, m, p, zero_skipped=zero, owners=owners)
                for name, run, owners in branches
            ]
            return _merge(layer, outs, m)

        merge_value = 1.0 - torch.stack([1.0 - value for _, value in units.values()]).prod(0)  # OR, differentiable
        x = gated_residual(
            x, merge_rows, merge_value, branches_and_merge, mask, pos_emb, zero_skipped=zero,
            owners=tuple(o for _, _, owners in branches for o in owners)
            + (layer.depthwise_conv_fusion, layer.merge_proj),
        )

    if layer.feed_forward is not None:
        rows, value = unit(FFN2)
        x = gated_residual(
            x, rows, value, _feed_forward(layer.norm_ff, layer.feed_forward, layer.dropout),
            scale=layer.ff_scale, zero_skipped=zero, owners=(layer.norm_ff, layer.feed_forward),
        )
    return layer.norm_final(x)


def layer_gated_forward(
    layer: EBranchformerEncoderLayer,
    x: torch.Tensor,
    mask: torch.Tensor,
    pos_emb: Optional[torch.Tensor],
    decision: GateDecision,
    gate: int,
) -> torch.Tensor:
    """One layer skipped or run whole (the layer-level baseline): skipped = identity."""

    def delta(h: torch.Tensor, m: torch.Tensor, p: Optional[torch.Tensor]) -> torch.Tensor:
        out, _ = layer(h if p is None else (h, p), m)
        return (out[0] if isinstance(out, tuple) else out) - h

    return gated_residual(
        x, decision.rows(gate), decision.value(gate), delta, mask, pos_emb,
        zero_skipped=not decision.skip_rows, owners=(layer,),
    )


def unit_macs_per_frame(layer: EBranchformerEncoderLayer, num_frames: int) -> dict[str, int]:
    """Multiply-accumulates per frame of each gateable unit the layer has (FLOPs weighting).

    Self-attention's score and context products grow with the sequence length; a statically
    pruned layer counts the sizes it kept.
    """
    d = layer.size
    macs = {}
    if layer.attn is not None:
        qk, vo = d, d
        if isinstance(layer.attn, PrunedMultiHeadedAttention):
            qk, vo = sum(layer.attn.qk_dims), sum(layer.attn.vo_dims)
        macs[ATTN] = d * (2 * qk + vo) + vo * d + num_frames * (qk + vo)
    if layer.cgmlp is not None:
        cg = layer.cgmlp.channel_proj1[0].out_features
        macs[CGMLP] = d * cg + (cg // 2) * layer.cgmlp.csgu.conv.kernel_size[0] + (cg // 2) * d
    if layer.depthwise_conv_fusion is not None:
        width = layer.depthwise_conv_fusion.in_channels
        macs["merge"] = width * layer.depthwise_conv_fusion.kernel_size[0] + width * d
    for name, ffn in ((FFN1, layer.feed_forward_macaron), (FFN2, layer.feed_forward)):
        if ffn is not None:
            macs[name] = 2 * d * ffn.w_1.out_features
    return macs
