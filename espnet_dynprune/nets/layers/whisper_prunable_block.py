"""One stock Whisper encoder block (openai-whisper's ``ResidualAttentionBlock``) under static pruning's masks.

Units (:mod:`~espnet_dynprune.nets.layers.prunable_units`; ``encoder_conf: prune_groups``, the
E-Branchformer's groups that a Whisper block has): the self-attention (``attn``: per head its
query/key and value/output dims, and itself whole) and the MLP (``mlp``: its intermediate units,
``ffn_units``, and itself whole, ``ffn``). Whisper's block is pre-norm with a residual around
each, so a removed module is the identity, in the masked block as in the exported one.
"""

from __future__ import annotations

from typing import Collection

import torch

from espnet_dynprune.nets.layers.layer_sizes import WhisperBlockSizes
from espnet_dynprune.nets.layers.prunable_units import UnitMasks, Values, WhisperAttention, WhisperMLP

WHISPER_GROUPS = ("attn_qk", "attn_vo", "attn", "ffn_units", "ffn")
ATTN = WhisperAttention("attn", "attn_ln")
MLP = WhisperMLP("mlp", "mlp_ln")


class WhisperBlockMasks(UnitMasks):
    """Masks over one stock Whisper encoder block (which it does not own).

    Args:
        block: the block whose units are masked (read for its shapes only).
        groups: which mask groups to learn (``encoder_conf: prune_groups``).
        init_keep, straight_through, lr_scale: as :class:`UnitMasks`.
    """

    sizes_class = WhisperBlockSizes

    def __init__(
        self, block: torch.nn.Module, groups: Collection[str], init_keep: float, straight_through: bool,
        lr_scale: float,
    ) -> None:  # fmt: skip
        super().__init__(block, [ATTN, MLP], groups, WHISPER_GROUPS, "encoder_conf", init_keep, straight_through,
                         lr_scale)


def masked_whisper_block_forward(block: torch.nn.Module, x: torch.Tensor, values: Values) -> torch.Tensor:
    """One Whisper encoder block, (B, T, D) -> (B, T, D), under mask ``values`` (no attention mask,
    as in Whisper's encoder)."""
    x = x + ATTN.output(block, x, None, values)
    return MLP.residual(block, x, values)
