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
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer
from espnet2.asr.layers.fastformer import FastSelfAttention

from espnet_dynprune.gating.decision import GateDecision, RowSet
from espnet_dynprune.gating.row_dispatch import gated_branch, gated_residual, take_rows

FFN1, ATTN, CGMLP, FFN2 = "ffn1", "attn", "cgmlp", "ffn2"
MODULE_TYPES = (FFN1, ATTN, CGMLP, FFN2)
GateOf = Callable[[str], int]


def layer_module_types(layer: EBranchformerEncoderLayer) -> tuple[str, ...]:
    """The gateable modules ``layer`` has, in execution order (2, 3 or 4 of them)."""
    present = {
        FFN1: layer.feed_forward_macaron is not None,
        ATTN: True,
        CGMLP: True,
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


def _merge(layer: EBranchformerEncoderLayer, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    both = torch.cat([x1, x2], dim=-1)
    fused = layer.depthwise_conv_fusion(both.transpose(1, 2)).transpose(1, 2)
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

    att_rows, att_value = unit(ATTN)
    cg_rows, cg_value = unit(CGMLP)
    merge_rows = att_rows.union(cg_rows, device)
    att_in, cg_in = att_rows.within(merge_rows, device), cg_rows.within(merge_rows, device)

    def branches_and_merge(h: torch.Tensor, m: torch.Tensor, p: Optional[torch.Tensor]) -> torch.Tensor:
        x1 = gated_branch(
            h, att_in, take_rows(merge_rows, att_value), _attention(layer), m, p,
            zero_skipped=zero, owners=(layer.norm_mha, layer.attn),
        )
        x2 = gated_branch(
            h, cg_in, take_rows(merge_rows, cg_value), _cgmlp(layer), m, p,
            zero_skipped=zero, owners=(layer.norm_mlp, layer.cgmlp),
        )
        return _merge(layer, x1, x2)

    merge_value = 1.0 - (1.0 - att_value) * (1.0 - cg_value)  # logical OR, differentiable
    x = gated_residual(
        x, merge_rows, merge_value, branches_and_merge, mask, pos_emb,
        zero_skipped=zero,
        owners=(layer.norm_mha, layer.attn, layer.norm_mlp, layer.cgmlp,
                layer.depthwise_conv_fusion, layer.merge_proj),
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

    Self-attention's score and context products grow with the sequence length.
    """
    d = layer.size
    cg = layer.cgmlp.channel_proj1[0].out_features
    cg_kernel = layer.cgmlp.csgu.conv.kernel_size[0]
    merge_kernel = layer.depthwise_conv_fusion.kernel_size[0]
    macs = {
        ATTN: 4 * d * d + 2 * num_frames * d,
        CGMLP: d * cg + (cg // 2) * cg_kernel + (cg // 2) * d,
        "merge": 2 * d * merge_kernel + 2 * d * d,
    }
    for name, ffn in ((FFN1, layer.feed_forward_macaron), (FFN2, layer.feed_forward)):
        if ffn is not None:
            macs[name] = 2 * d * ffn.w_1.out_features
    return macs
