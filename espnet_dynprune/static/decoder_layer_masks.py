"""The hard-concrete masks of one Transformer decoder layer, and what they leave of its parameters.

Mask groups (``decoder_conf: prune_groups``), the encoder's that a decoder layer has:

- ``attn_qk`` / ``attn_vo``: per head, each query/key and each value/output dimension of the
  self-attention and of the source attention (four masks);
- ``ffn_units``: the FFN's intermediate units;
- ``attn``, ``ffn``: whole modules (self-attention, source attention, FFN; straight-through).

As in the encoder, a module whose every unit is removed is removed whole (its norm and biases
too), and each layer counts its own prunable parameters analytically (expected and realised).
The source attention's keys and values read the encoder output, whose size is the decoder's.
"""

from __future__ import annotations

from typing import Collection


from espnet_dynprune.nets.espnet_compat import DecoderLayer
from espnet_dynprune.nets.layer_sizes import DecoderLayerSizes
from espnet_dynprune.static.layer_masks import Number, UnitMasks, attention_params, check_groups, ffn_params

DECODER_GROUPS = ("attn_qk", "attn_vo", "attn", "ffn_units", "ffn")
ATTENTIONS = ("self_attn", "src_attn")


class DecoderLayerMasks(UnitMasks):
    """Masks over one stock ESPnet ``DecoderLayer`` (which it does not own).

    Args:
        layer: the layer whose units are masked (read for its shapes only).
        groups: which mask groups to learn (see the module docstring).
        init_keep, straight_through, lr_scale: as for the encoder's ``LayerMasks``.
    """

    def __init__(
        self, layer: DecoderLayer, groups: Collection[str], init_keep: float, straight_through: bool, lr_scale: float
    ) -> None:
        super().__init__()
        check_groups(groups, DECODER_GROUPS, "decoder_conf")
        self.d = layer.size
        self.heads, self.head_dim = layer.self_attn.h, layer.self_attn.d_k
        self.units = {f"{a}_{kind}": self.heads * self.head_dim for a in ATTENTIONS for kind in ("qk", "vo")}
        self.units["ffn_units"] = layer.feed_forward.w_1.out_features
        self.modules_present = [*ATTENTIONS, "ffn"]
        self._make_masks(groups, init_keep, straight_through, lr_scale)

    module_units = {**{a: (f"{a}_qk", f"{a}_vo") for a in ATTENTIONS}, "ffn": ("ffn_units",)}
    sizes_class = DecoderLayerSizes

    @staticmethod
    def group_of(name: str) -> str:
        for attention in ATTENTIONS:
            if name.startswith(attention):
                return "attn" + name[len(attention):]
        return name

    def _count(self, units: dict[str, Number], alive: dict[str, Number]) -> Number:
        total = alive["ffn"] * ffn_params(self.d, units["ffn_units"])
        for a in ATTENTIONS:
            total = total + alive[a] * attention_params(self.d, units[f"{a}_qk"], units[f"{a}_vo"])
        return total
