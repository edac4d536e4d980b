"""A stock ``EBranchformerEncoderLayer`` or ``DecoderLayer`` run under static-pruning mask values.

The layer object (and so its state-dict keys) is ESPnet's own, so ``--init_param`` loads the
unpruned model as is; these functions take over the order of calls to put the masks in:

- FFN: the intermediate units after the activation; the whole-FFN mask on its output.
- attention: the query/key mask on the queries (a masked dimension then adds nothing to any
  score), the value/output mask on the values, the whole-MHA mask on the output.
- cgMLP: one mask value per CSGU channel pair on the gated product; the gate half's LayerNorm
  normalises over the channels kept only, as the exported (smaller) layer's will.
- a module with no unit left outputs exactly 0 (its biases too), as if removed.

Only ``attention_layer_type: selfattn`` with absolute positions is supported in the encoder,
and teacher forcing (no cache) in the decoder: a masked decoder is trained, then exported.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer

from espnet_dynprune.nets.espnet_compat import DecoderLayer, LayerNorm, MultiHeadedAttention, mask_padded_frames

Values = dict[str, Optional[torch.Tensor]]


def _module_scale(values: Values, module: str, *unit_groups: str) -> Optional[torch.Tensor]:
    """Whole-module mask times "some unit is left" (0 when every unit is masked), or None."""
    scale = values.get(module)
    for group in unit_groups:
        if values.get(group) is not None:
            alive = (values[group] > 0).any().to(values[group].dtype)
            scale = alive if scale is None else scale * alive
    return scale


def _scaled(x: torch.Tensor, scale: Optional[torch.Tensor]) -> torch.Tensor:
    return x if scale is None else x * scale


def _feed_forward(norm, ffn, dropout, x: torch.Tensor, units: Optional[torch.Tensor], scale, ff_scale: float = 1.0):
    h = ffn.activation(ffn.w_1(norm(x)))
    if units is not None:
        h = h * units
    out = ffn.w_2(ffn.dropout(h))
    return x + ff_scale * dropout(_scaled(out, scale))


def _attention(
    attn: MultiHeadedAttention, query: torch.Tensor, memory: torch.Tensor, mask: Optional[torch.Tensor],
    qk: Optional[torch.Tensor], vo: Optional[torch.Tensor],
) -> torch.Tensor:  # fmt: skip
    batch = query.size(0)

    def heads(x: torch.Tensor, units: Optional[torch.Tensor]) -> torch.Tensor:
        x = x.view(batch, -1, attn.h, attn.d_k)
        if units is not None:
            x = x * units.view(attn.h, attn.d_k)
        return x.transpose(1, 2)

    q = heads(attn.linear_q(query), qk)
    k = heads(attn.linear_k(memory), None)
    v = heads(attn.linear_v(memory), vo)
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(attn.d_k)
    return attn.forward_attention(v, scores, mask)


def kept_channel_norm(norm: LayerNorm, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``norm`` over the channels where ``keep`` is True only (the others come out 0)."""
    weight = keep.to(x.dtype)
    count = weight.sum().clamp(min=1.0)
    mean = (x * weight).sum(-1, keepdim=True) / count
    centred = (x - mean) * weight
    var = (centred * centred).sum(-1, keepdim=True) / count
    return (centred / torch.sqrt(var + norm.eps) * norm.weight + norm.bias) * weight


def _cgmlp(layer, h: torch.Tensor, mask: torch.Tensor, channels: Optional[torch.Tensor]) -> torch.Tensor:
    cgmlp, csgu = layer.cgmlp, layer.cgmlp.csgu
    value, gate = cgmlp.channel_proj1(h).chunk(2, dim=-1)
    gate = csgu.norm(gate) if channels is None else kept_channel_norm(csgu.norm, gate, channels > 0)
    gate = csgu.act(csgu.conv(mask_padded_frames(gate.transpose(1, 2), mask)).transpose(1, 2))
    out = value * gate
    if channels is not None:
        out = out * channels
    return cgmlp.channel_proj2(csgu.dropout(out))


def masked_layer_forward(layer: EBranchformerEncoderLayer, x: torch.Tensor, mask: torch.Tensor, values: Values) -> torch.Tensor:
    """One layer under mask ``values`` (:meth:`LayerMasks.values`); (B, T, D) -> (B, T, D)."""
    if layer.feed_forward_macaron is not None:
        x = _feed_forward(layer.norm_ff_macaron, layer.feed_forward_macaron, layer.dropout, x, values.get("ffn1_units"),
                          _module_scale(values, "ffn1", "ffn1_units"), layer.ff_scale)
    h = layer.norm_mha(x)
    x1 = _scaled(_attention(layer.attn, h, h, mask, values["attn_qk"], values["attn_vo"]),
                 _module_scale(values, "attn", "attn_vo"))
    x2 = _scaled(_cgmlp(layer, layer.norm_mlp(x), mask, values["cgmlp_channels"]),
                 _module_scale(values, "cgmlp", "cgmlp_channels"))
    both = torch.cat([layer.dropout(x1), layer.dropout(x2)], dim=-1)
    fused = layer.depthwise_conv_fusion(mask_padded_frames(both.transpose(1, 2), mask)).transpose(1, 2)
    x = x + layer.dropout(layer.merge_proj(both + fused))
    if layer.feed_forward is not None:
        x = _feed_forward(layer.norm_ff, layer.feed_forward, layer.dropout, x, values.get("ffn2_units"),
                          _module_scale(values, "ffn2", "ffn2_units"), layer.ff_scale)
    return layer.norm_final(x)


def masked_decoder_layer_forward(
    layer: DecoderLayer, tgt: torch.Tensor, tgt_mask: torch.Tensor, memory: torch.Tensor,
    memory_mask: Optional[torch.Tensor], values: Values,
) -> torch.Tensor:  # fmt: skip
    """One decoder layer under mask ``values`` (:meth:`DecoderLayerMasks.values`), teacher-forced."""
    x = tgt
    for attention, norm, key, mask in (("self_attn", layer.norm1, None, tgt_mask),
                                       ("src_attn", layer.norm2, memory, memory_mask)):
        h = norm(x)
        out = _attention(getattr(layer, attention), h, h if key is None else key, mask,
                         values[f"{attention}_qk"], values[f"{attention}_vo"])
        x = x + layer.dropout(_scaled(out, _module_scale(values, attention, f"{attention}_vo")))
    return _feed_forward(layer.norm3, layer.feed_forward, layer.dropout, x, values["ffn_units"],
                         _module_scale(values, "ffn", "ffn_units"))
