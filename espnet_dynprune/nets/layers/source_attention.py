"""Source attention with keys and values projected once per utterance.

ESPnet's decoder calls ``src_attn(query, memory, memory, mask)`` at every beam
step for every hypothesis, so the encoder output is projected into keys and
values again each time: ~80% of the FLOPs of a 1B OWSM utterance (30 s,
beam 5). The projections depend on the utterance alone, so they
are computed once here and every step and hypothesis reuses them. The
hypotheses of one utterance attend as extra query positions of a single batch
row (source attention has no causal mask), so the shared keys and values are
never copied per hypothesis. Only the module's own layers and ESPnet's
``forward_attention`` are used, so results match the stock module. A statically pruned
module (:class:`~espnet_dynprune.nets.layers.pruned_attention.PrunedMultiHeadedAttention`, heads of
their own sizes) projects and attends with its own methods, in its padded heads layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import torch

from espnet_dynprune.nets.espnet_compat import MultiHeadedAttention
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention

Attention = Union[MultiHeadedAttention, PrunedMultiHeadedAttention]


@dataclass(frozen=True)
class SourceKeysValues:
    """Projected encoder output of U utterances for one attention module.

    ``key``/``value`` are (U, heads, T, d_k) (a pruned module's: its padded head width); ``mask`` is (U, 1, T) with True
    on real frames, or None when no frame is padding.
    """

    key: torch.Tensor
    value: torch.Tensor
    mask: Optional[torch.Tensor]

    @property
    def num_utterances(self) -> int:
        return self.key.size(0)


def project_source(attn: Attention, memory: torch.Tensor, mask: Optional[torch.Tensor]) -> SourceKeysValues:
    """Keys and values of ``memory`` (U, T, D) for ``attn``, as its ``forward_qkv`` makes them."""
    if isinstance(attn, PrunedMultiHeadedAttention):
        return SourceKeysValues(*attn.project_key_value(memory, memory), mask)
    u = memory.size(0)
    key = attn.linear_k(memory).view(u, -1, attn.h, attn.d_k).transpose(1, 2)
    value = attn.linear_v(memory).view(u, -1, attn.h, attn.d_k).transpose(1, 2)
    return SourceKeysValues(attn.k_norm(key), value, mask)


def attend(attn: Attention, query: torch.Tensor, source: SourceKeysValues) -> torch.Tensor:
    """``attn(query, memory, memory, mask)`` with the memory's projections precomputed.

    Args:
        query: (R, L, D), the rows of each utterance contiguous and R a multiple
            of U (e.g. U utterances x beam hypotheses).
    Returns:
        (R, L, D)
    """
    u = source.num_utterances
    grouped = query.reshape(u, -1, query.size(-1))
    if isinstance(attn, PrunedMultiHeadedAttention):
        out = attn.attend(attn.project_query(grouped), source.key, source.value, source.mask)
        return out.reshape(query.shape)
    q = attn.linear_q(grouped).view(u, -1, attn.h, attn.d_k).transpose(1, 2)
    q = attn.q_norm(q)
    if getattr(attn, "use_sdpa", False):
        mask = None if source.mask is None else source.mask.unsqueeze(1)
        out = torch.nn.functional.scaled_dot_product_attention(
            q, source.key, source.value, mask,
            dropout_p=attn.dropout_rate if attn.training else 0.0,
        )
        out = attn.linear_out(out.transpose(1, 2).reshape(u, -1, attn.h * attn.d_k))
    else:
        scores = torch.matmul(q, source.key.transpose(-2, -1)) / math.sqrt(attn.d_k)
        out = attn.forward_attention(source.value, scores, source.mask)
    return out.reshape(query.shape)
