"""Gated forward pass over a stock ESPnet Transformer ``DecoderLayer``.

Self-attention, source attention and the feed-forward module each carry their
own residual, so a skipped module is the identity (a skipped layer is its three
modules skipped). With a cache (incremental decoding in beam search) only the
newest position is computed, as in ESPnet, and the layer's output is appended
to its cache. Source attention reads keys/values projected once per utterance.
A statically pruned layer (:class:`~espnet_dynprune.nets.layers.transformer_pruned_layer.PrunedDecoderLayer`)
gates the modules it kept; a removed one is the identity.
"""

from __future__ import annotations

from typing import Optional

import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.row_dispatch import gated_residual
from espnet_dynprune.nets.espnet_compat import DecoderLayer
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention
from espnet_dynprune.nets.layers.source_attention import Attention, SourceKeysValues, attend

SELF_ATTN, SRC_ATTN, FFN = "self_attn", "src_attn", "ffn"
MODULE_TYPES = (SELF_ATTN, SRC_ATTN, FFN)
Gates = tuple[Optional[int], Optional[int], Optional[int]]


def decoder_module_types(layer: DecoderLayer) -> tuple[str, ...]:
    """The gateable modules ``layer`` has (a statically pruned layer may have lost some)."""
    present = {SELF_ATTN: layer.self_attn, SRC_ATTN: layer.src_attn, FFN: layer.feed_forward}
    return tuple(m for m in MODULE_TYPES if present[m] is not None)


def _self_attention(layer: DecoderLayer, cached: bool):
    def run(_: torch.Tensor, full: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        h = layer.norm1(full)
        q = h[:, -1:] if cached else h
        return layer.dropout(layer.self_attn(q, h, h, mask))

    return run


def _source_attention(layer: DecoderLayer, source: Optional[SourceKeysValues]):
    """Source attention of the rows that keep it; ``source`` holds exactly their utterances."""
    def run(x: torch.Tensor) -> torch.Tensor:
        return layer.dropout(attend(layer.src_attn, layer.norm2(x), source))

    return run


def _feed_forward(layer: DecoderLayer):
    return lambda x: layer.dropout(layer.feed_forward(layer.norm3(x)))


def _query_mask(tgt_mask: Optional[torch.Tensor], cached: bool) -> Optional[torch.Tensor]:
    if tgt_mask is None or not cached:
        return tgt_mask
    return tgt_mask[:, -1:, :]


def gated_forward(
    layer: DecoderLayer,
    tgt: torch.Tensor,
    tgt_mask: Optional[torch.Tensor],
    source: Optional[SourceKeysValues],
    decision: GateDecision,
    gates: Gates,
    cache: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """One decoder layer with self-attention / source attention / FFN gated.

    Args:
        tgt: (R, L, D) decoder input, R = utterances x hypotheses each.
        source: keys/values of the utterances whose rows keep source attention.
        decision: (R, G) gates of the rows.
        gates: gate columns of the three modules (all equal for a layer gate; None: the
            layer has no such module).
        cache: (R, L - 1, D) this layer's outputs at the previous positions.
    """
    cached = cache is not None
    zero = not decision.skip_rows
    x = tgt[:, -1:] if cached else tgt
    g_self, g_src, g_ffn = gates
    if g_self is not None:
        x = gated_residual(
            x, decision.rows(g_self), decision.value(g_self), _self_attention(layer, cached),
            tgt, _query_mask(tgt_mask, cached), zero_skipped=zero,
            owners=(layer.norm1, layer.self_attn),
        )
    if g_src is not None:
        x = gated_residual(
            x, decision.rows(g_src), decision.value(g_src), _source_attention(layer, source),
            zero_skipped=zero, owners=(layer.norm2, layer.src_attn),
        )
    if g_ffn is not None:
        x = gated_residual(
            x, decision.rows(g_ffn), decision.value(g_ffn), _feed_forward(layer),
            zero_skipped=zero, owners=(layer.norm3, layer.feed_forward),
        )
    return x if cache is None else torch.cat([cache, x], dim=1)


def _head_dims(attn: Optional[Attention]) -> tuple[int, int]:
    """Total query/key and value/output dims of an attention module (0, 0 when removed)."""
    if attn is None:
        return 0, 0
    if isinstance(attn, PrunedMultiHeadedAttention):
        return sum(attn.qk_dims), sum(attn.vo_dims)
    return attn.h * attn.d_k, attn.h * attn.d_k


def unit_macs_per_step(layer: DecoderLayer, prefix_length: int, num_frames: int) -> dict[str, int]:
    """Multiply-accumulates of each gated module ``layer`` has, for one new token.

    Source attention's once-per-utterance key/value projection is spread over
    ``prefix_length`` steps.
    """
    d = layer.size
    self_qk, self_vo = _head_dims(layer.self_attn)
    src_qk, src_vo = _head_dims(layer.src_attn)
    macs = {
        SELF_ATTN: 2 * d * (self_qk + self_vo) + prefix_length * (self_qk + self_vo),
        SRC_ATTN: d * (src_qk + src_vo) + num_frames * (src_qk + src_vo)
        + num_frames * d * (src_qk + src_vo) // prefix_length,
        FFN: 0 if layer.feed_forward is None else 2 * d * layer.feed_forward.w_1.out_features,
    }
    return {m: macs[m] for m in decoder_module_types(layer)}
