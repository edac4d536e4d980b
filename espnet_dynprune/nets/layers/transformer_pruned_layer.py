"""A Transformer decoder layer rebuilt at the sizes static pruning left it.

It is ESPnet's ``DecoderLayer`` (same attribute names, so the same state-dict keys for whatever
is kept; pre-norm, no ``concat_after``, OWSM's layout) whose modules have their own sizes, or
are gone together with their norm:

- self-attention / source attention: per head ``*_qk`` query/key dims and ``*_vo`` value/output
  dims (:class:`~espnet_dynprune.nets.layers.pruned_attention.PrunedMultiHeadedAttention`); no head
  left = the module is removed and its residual branch is the identity;
- FFN: ``ffn_units`` intermediate units; 0 = removed.
"""

from __future__ import annotations

from typing import Optional

import torch

from espnet_dynprune.nets.espnet_compat import DecoderLayer, PositionwiseFeedForward
from espnet_dynprune.nets.layers.layer_sizes import DecoderLayerSizes
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention


class PrunedDecoderLayer(DecoderLayer):
    """ESPnet's decoder layer at per-module sizes (ESPnet's forward signature and cache).

    Args:
        size: model dimension (the decoder's ``encoder_output_size``).
        sizes: what the layer kept.
        head_dim: ``d_k`` of the unpruned attention (the score scale).
        dropout_rate, self_attention_dropout_rate, src_attention_dropout_rate: as ``decoder_conf``.
    """

    def __init__(
        self, size: int, sizes: DecoderLayerSizes, head_dim: int, dropout_rate: float,
        self_attention_dropout_rate: float, src_attention_dropout_rate: float,
    ) -> None:  # fmt: skip
        def attention(qk: list[int], vo: list[int], rate: float) -> Optional[PrunedMultiHeadedAttention]:
            return PrunedMultiHeadedAttention(size, qk, vo, head_dim, rate) if vo else None

        super().__init__(
            size, attention(sizes.self_attn_qk, sizes.self_attn_vo, self_attention_dropout_rate),
            attention(sizes.src_attn_qk, sizes.src_attn_vo, src_attention_dropout_rate),
            PositionwiseFeedForward(size, sizes.ffn_units, dropout_rate) if sizes.ffn_units else None,
            dropout_rate, normalize_before=True, concat_after=False,
        )  # fmt: skip
        self.sizes = sizes
        for norm, module in (("norm1", self.self_attn), ("norm2", self.src_attn), ("norm3", self.feed_forward)):
            if module is None:
                setattr(self, norm, None)

    def forward(
        self,
        tgt: torch.Tensor,
        tgt_mask: Optional[torch.Tensor],
        memory: torch.Tensor,
        memory_mask: Optional[torch.Tensor],
        cache: Optional[torch.Tensor] = None,
    ):
        """As ESPnet's layer: with ``cache`` (B, L - 1, D) only the newest position is computed."""
        x = tgt if cache is None else tgt[:, -1:]
        if self.self_attn is not None:
            h = self.norm1(tgt)
            query, query_mask = (h, tgt_mask) if cache is None else (h[:, -1:], _last_row(tgt_mask))
            x = x + self.dropout(self.self_attn(query, h, h, query_mask))
        if self.src_attn is not None:
            x = x + self.dropout(self.src_attn(self.norm2(x), memory, memory, memory_mask))
        if self.feed_forward is not None:
            x = x + self.dropout(self.feed_forward(self.norm3(x)))
        if cache is not None:
            x = torch.cat([cache, x], dim=1)
        return x, tgt_mask, memory, memory_mask


def _last_row(mask: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if mask is None else mask[:, -1:, :]
