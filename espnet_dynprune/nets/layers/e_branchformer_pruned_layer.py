"""An E-Branchformer layer rebuilt at the sizes static pruning left it.

It is ESPnet's ``EBranchformerEncoderLayer`` (same attribute names, so the same state-dict keys
for whatever is kept) whose modules have their own sizes, or are gone:

- FFN1 / FFN2: ``ffn1_units`` / ``ffn2_units`` intermediate units; 0 = removed (with its norm).
- attention: per head ``attn_qk`` query/key dims and ``attn_vo`` value/output dims
  (:class:`~espnet_dynprune.nets.layers.pruned_attention.PrunedMultiHeadedAttention`); no heads = removed.
- cgMLP: ``cgmlp_channels`` CSGU channel pairs (each a value channel and its gate channel);
  0 = removed.
- the merge follows its inputs: its depthwise conv and projection read only the branches left;
  with neither branch left it is the constant its biases add (``merge_bias``).

The macaron scale stays what the unpruned layer used (0.5 when it had FFN1), even if FFN1 is gone.
"""

from __future__ import annotations

from typing import Optional

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer
from espnet2.asr.layers.cgmlp import ConvolutionalGatingMLP

from espnet_dynprune.nets.espnet_compat import PositionwiseFeedForward, get_activation, mask_padded_frames
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention


class PrunedEBranchformerLayer(EBranchformerEncoderLayer):
    """ESPnet's E-Branchformer layer at per-module sizes (ESPnet's forward signature).

    Args:
        size: model dimension.
        sizes: what the layer kept.
        head_dim: ``d_k`` of the unpruned attention (the score scale).
        ff_scale: the residual scale of the FFNs (0.5 for a macaron layer).
        dropout_rate, attention_dropout_rate, cgmlp_conv_kernel, gate_activation,
        merge_conv_kernel, ffn_activation_type: as ``encoder_conf``.
    """

    def __init__(
        self,
        size: int,
        sizes: LayerSizes,
        head_dim: int,
        ff_scale: float,
        dropout_rate: float,
        attention_dropout_rate: float,
        cgmlp_conv_kernel: int,
        gate_activation: str,
        merge_conv_kernel: int,
        ffn_activation_type: str,
    ) -> None:
        def ffn(units: int) -> Optional[PositionwiseFeedForward]:
            return PositionwiseFeedForward(size, units, dropout_rate, get_activation(ffn_activation_type)) if units else None

        attn = (PrunedMultiHeadedAttention(size, sizes.attn_qk, sizes.attn_vo, head_dim, attention_dropout_rate)
                if sizes.has_attention else None)
        cgmlp = (ConvolutionalGatingMLP(size, 2 * sizes.cgmlp_channels, cgmlp_conv_kernel, dropout_rate, False,
                                        gate_activation) if sizes.cgmlp_channels else None)
        super().__init__(size, attn, cgmlp, ffn(sizes.ffn2_units), ffn(sizes.ffn1_units), dropout_rate,
                         merge_conv_kernel)
        self.sizes, self.ff_scale = sizes, ff_scale
        if attn is None:
            self.norm_mha = None
        if cgmlp is None:
            self.norm_mlp = None
        branches = int(attn is not None) + int(cgmlp is not None)
        self.merge_bias = None
        if branches == 2:
            return
        if branches == 0:
            self.depthwise_conv_fusion = self.merge_proj = None
            self.merge_bias = torch.nn.Parameter(torch.zeros(size))
            return
        self.depthwise_conv_fusion = torch.nn.Conv1d(
            size, size, merge_conv_kernel, padding=(merge_conv_kernel - 1) // 2, groups=size
        )
        self.merge_proj = torch.nn.Linear(size, size)

    def _feed_forward(self, x: torch.Tensor, norm: torch.nn.Module, ffn: Optional[torch.nn.Module]) -> torch.Tensor:
        if ffn is None:
            return x
        return x + self.ff_scale * self.dropout(ffn(norm(x)))

    def branches(self, x: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the attention and cgMLP branches the layer kept."""
        outs = []
        if self.attn is not None:
            h = self.norm_mha(x)
            outs.append(self.dropout(self.attn(h, h, h, mask)))
        if self.cgmlp is not None:
            outs.append(self.dropout(self.cgmlp(self.norm_mlp(x), mask)))
        return outs

    def merge(self, outs: list[torch.Tensor], like: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What the merge adds to the residual, from the kept branches' outputs."""
        if not outs:
            return self.merge_bias.expand_as(like)
        both = torch.cat(outs, dim=-1)
        fused = self.depthwise_conv_fusion(mask_padded_frames(both.transpose(1, 2), mask)).transpose(1, 2)
        return self.dropout(self.merge_proj(both + fused))

    def forward(self, x_input, mask: torch.Tensor, cache=None):
        """As ESPnet's layer: ``(x, mask)``; absolute positions only (no ``pos_emb``)."""
        if cache is not None or isinstance(x_input, tuple):
            raise NotImplementedError("pruned E-Branchformer layers support selfattn with absolute positions only")
        x = self._feed_forward(x_input, getattr(self, "norm_ff_macaron", None), self.feed_forward_macaron)
        x = x + self.merge(self.branches(x, mask), x, mask)
        x = self._feed_forward(x, getattr(self, "norm_ff", None), self.feed_forward)
        return self.norm_final(x), mask
