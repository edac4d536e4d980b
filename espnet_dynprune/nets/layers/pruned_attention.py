"""Multi-head attention whose heads keep different numbers of query/key and value/output dims.

What static structured pruning leaves of ESPnet's ``MultiHeadedAttention``: per head ``i``,
``qk_dims[i]`` query/key dimensions and ``vo_dims[i]`` value/output dimensions (a head that
kept no value dims is gone). The projections hold only the kept rows and columns, under
ESPnet's names (``linear_q``, ``linear_k``, ``linear_v``, ``linear_out``). Scores keep the
unpruned model's scale ``1 / sqrt(d_k)``; a head with no query/key dims left attends
uniformly, as the masked model's did.

Why heads are zero-padded to the widest one only for the two attention products: batched
matmuls need one width per call, and a loop over heads costs a kernel launch per head. The
projections, which hold the parameters and most of the MACs, stay exact; when every head kept
the same widths no padding happens at all. Queries, keys and values are padded to ONE width
(the widest of any of them): PyTorch's fused attention kernels (flash attention, on CPU too)
need the value head size to equal the query/key one, and without them it falls back to its
math path, which materialises every head's T x T scores (OWSM v3.1 base, 30 s, one CPU
thread, 50 % sparsity: 20.4 ms per layer, more than the unpruned attention's 19.0, against 14.9).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F


def _padded_positions(dims: Sequence[int], width: int) -> torch.Tensor:
    """Where each kept dim goes in the (heads * width) padded layout."""
    return torch.tensor([h * width + j for h, n in enumerate(dims) for j in range(n)], dtype=torch.long)


class PrunedMultiHeadedAttention(torch.nn.Module):
    """Self- or cross-attention over heads of their own sizes (ESPnet's call signature).

    Args:
        size: model dimension (input and output).
        qk_dims: per head, the query/key dims kept (0 allowed: uniform attention).
        vo_dims: per head, the value/output dims kept (each >= 1).
        head_dim: ``d_k`` of the unpruned model, for the score scale.
        dropout_rate: attention dropout.
        key_bias: whether the key projection has a bias (Whisper's has none).
    """

    def __init__(
        self, size: int, qk_dims: Sequence[int], vo_dims: Sequence[int], head_dim: int, dropout_rate: float,
        key_bias: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        if len(qk_dims) != len(vo_dims) or not vo_dims:
            raise ValueError(f"need one qk and one vo size per head, got qk {list(qk_dims)}, vo {list(vo_dims)}")
        if min(vo_dims) < 1 or min(qk_dims) < 0 or max(qk_dims) > head_dim or max(vo_dims) > head_dim:
            raise ValueError(f"head sizes must be in [0, {head_dim}] (vo >= 1), got qk {list(qk_dims)}, vo {list(vo_dims)}")
        self.qk_dims, self.vo_dims = [int(n) for n in qk_dims], [int(n) for n in vo_dims]
        self.h = len(vo_dims)
        self.scale = 1.0 / math.sqrt(head_dim)
        self.dropout_rate = dropout_rate
        self.linear_q = torch.nn.Linear(size, sum(self.qk_dims))
        self.linear_k = torch.nn.Linear(size, sum(self.qk_dims), bias=key_bias)
        self.linear_v = torch.nn.Linear(size, sum(self.vo_dims))
        self.linear_out = torch.nn.Linear(sum(self.vo_dims), size)
        self.width = max(max(self.qk_dims), max(self.vo_dims))  # of every head's q, k and v
        for name, dims in (("qk_positions", self.qk_dims), ("vo_positions", self.vo_dims)):
            uniform = all(n == self.width for n in dims)
            self.register_buffer(name, None if uniform else _padded_positions(dims, self.width), persistent=False)

    def _heads(self, x: torch.Tensor, positions: Optional[torch.Tensor]) -> torch.Tensor:
        """(B, T, kept dims) -> (B, heads, T, width), zero-padding narrower heads."""
        if positions is not None:
            padded = x.new_zeros(*x.shape[:-1], self.h * self.width)
            x = padded.index_copy_(-1, positions, x)
        return x.view(x.size(0), x.size(1), self.h, self.width).transpose(1, 2)

    def project_query(self, query: torch.Tensor) -> torch.Tensor:
        """(B, T, size) -> (B, heads, T, width) queries."""
        return self._heads(self.linear_q(query), self.qk_positions)

    def project_key_value(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values in the heads layout (what source attention projects once per utterance)."""
        return self._heads(self.linear_k(key), self.qk_positions), self._heads(self.linear_v(value), self.vo_positions)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """Projected heads -> (B, T1, size); ``mask`` is ESPnet's (B, 1, T2) or (B, T1, T2), True = attend."""
        attn_mask = None if mask is None else mask.unsqueeze(1).bool()
        dropout = self.dropout_rate if self.training else 0.0
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout, scale=self.scale)
        context = context.transpose(1, 2).reshape(q.size(0), q.size(2), self.h * self.width)
        if self.vo_positions is not None:
            context = context.index_select(-1, self.vo_positions)
        return self.linear_out(context)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: Optional[torch.Tensor],
        expand_kv: bool = False,
    ) -> torch.Tensor:
        """Attend (ESPnet's ``MultiHeadedAttention`` call)."""
        if expand_kv:
            key, value = key[:1].expand_as(key), value[:1].expand_as(value)
        return self.attend(self.project_query(query), *self.project_key_value(key, value), mask)
