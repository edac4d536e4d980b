"""One stock Transformer ``DecoderLayer`` under static pruning's masks: its units, masks and forward.

Units (:mod:`~espnet_dynprune.nets.layers.prunable_units`; ``decoder_conf: prune_groups``, the
encoder's groups that a decoder layer has): the self-attention (``self_attn``), the source
attention (``src_attn``, whose keys and values read the encoder output, of the decoder's size) and
the FFN (``ffn``). A removed module is the identity in both the masked and the exported layer (its
residual adds exactly 0 in the masked one). The forward is teacher-forced (no cache): a masked
decoder is trained, then exported.
"""

from __future__ import annotations

from typing import Collection, Optional

import torch

from espnet_dynprune.nets.espnet_compat import DecoderLayer
from espnet_dynprune.nets.layers.layer_sizes import DecoderLayerSizes
from espnet_dynprune.nets.layers.prunable_units import Attention, FeedForward, UnitMasks, Values

DECODER_GROUPS = ("attn_qk", "attn_vo", "attn", "ffn_units", "ffn")
SELF_ATTN = Attention("self_attn", "norm1")
SRC_ATTN = Attention("src_attn", "norm2")
FFN = FeedForward("ffn", "norm3")


class DecoderLayerMasks(UnitMasks):
    """Masks over one stock ESPnet ``DecoderLayer`` (which it does not own).

    Args:
        layer: the layer whose units are masked (read for its shapes only).
        groups: which mask groups to learn (``decoder_conf: prune_groups``).
        init_keep, straight_through, lr_scale: as :class:`UnitMasks`.
    """

    sizes_class = DecoderLayerSizes

    def __init__(
        self, layer: DecoderLayer, groups: Collection[str], init_keep: float, straight_through: bool, lr_scale: float
    ) -> None:
        super().__init__(layer, [SELF_ATTN, SRC_ATTN, FFN], groups, DECODER_GROUPS, "decoder_conf", init_keep,
                         straight_through, lr_scale)


def masked_decoder_layer_forward(
    layer: DecoderLayer, tgt: torch.Tensor, tgt_mask: torch.Tensor, memory: torch.Tensor,
    memory_mask: Optional[torch.Tensor], values: Values,
) -> torch.Tensor:  # fmt: skip
    """One decoder layer under mask ``values`` (:meth:`DecoderLayerMasks.values`), teacher-forced."""
    x = tgt + layer.dropout(SELF_ATTN.output(layer, tgt, tgt_mask, values))
    x = x + layer.dropout(SRC_ATTN.output(layer, x, memory_mask, values, memory=memory))
    return FFN.residual(layer, x, values)
