"""A Whisper encoder block rebuilt at the sizes static pruning left it.

The attributes are openai-whisper's ``ResidualAttentionBlock``'s (``attn_ln``, ``attn``, ``mlp_ln``,
``mlp``), so what is kept loads under the same keys, except the attention's projections, which
take :class:`~espnet_dynprune.nets.layers.pruned_attention.PrunedMultiHeadedAttention`'s names
(heads of their own sizes; Whisper's key projection has no bias, nor does this one). A removed
module is gone with its norm, and the block adds nothing for it.
"""

from __future__ import annotations

import torch

from espnet_dynprune.nets.layers.layer_sizes import WhisperBlockSizes
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention


class PrunedWhisperBlock(torch.nn.Module):
    """Whisper's encoder block at per-module sizes (called as Whisper's: ``block(x)``).

    Args:
        size: model dimension.
        sizes: what the block kept.
        head_dim: dims per head of the unpruned attention (the score scale).
    """

    def __init__(self, size: int, sizes: WhisperBlockSizes, head_dim: int) -> None:
        super().__init__()
        self.sizes = sizes
        self.attn_ln = self.attn = self.mlp_ln = self.mlp = None
        if sizes.attn_vo:
            self.attn_ln = torch.nn.LayerNorm(size)
            self.attn = PrunedMultiHeadedAttention(size, sizes.attn_qk, sizes.attn_vo, head_dim, 0.0, key_bias=False)
        if sizes.mlp_units:
            self.mlp_ln = torch.nn.LayerNorm(size)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(size, sizes.mlp_units), torch.nn.GELU(),
                                           torch.nn.Linear(sizes.mlp_units, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.attn is not None:
            h = self.attn_ln(x)
            x = x + self.attn(h, h, h, None)
        if self.mlp is not None:
            x = x + self.mlp(self.mlp_ln(x))
        return x
