"""The E-Branchformer encoder that static structured pruning exports: smaller for real.

Registered as ``encoder: e_branchformer_pruned``. Its ``encoder_conf`` is the unpruned model's
(ESPnet's ``e_branchformer`` keys) plus ``layer_sizes``, one entry per layer saying what that
layer kept (:class:`~espnet_dynprune.nets.layers.layer_sizes.LayerSizes`), so the model
rebuilds from its config without any mask. The forward pass is ESPnet's own
(``EBranchformerEncoder.forward``: layer drop, InterCTC, gradient checkpointing); only the layers
differ. The conv2d subsampling front and the final norm are not pruned.

Loading is strict despite ESPnet's ``strict=False`` (:func:`~espnet_dynprune.nets.layers.layer_sizes.check_loaded_sizes`).
:func:`use_pruned_layers` does the same for the dynamically gated encoder (static + dynamic pruning).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from typeguard import typechecked

from espnet_dynprune.nets.layers.e_branchformer_pruned_layer import PrunedEBranchformerLayer
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes, check_loaded_sizes, check_supported, read_layer_sizes

#: The ``encoder_conf`` values the pruned (and masked) layers implement; any other is refused.
_SUPPORTED = {
    "attention_layer_type": ("selfattn",), "pos_enc_layer_type": ("abs_pos", "scaled_abs_pos"),
    "positionwise_layer_type": ("linear",), "use_linear_after_conv": (False,), "qk_norm": (False,),
}  # fmt: skip


def check_prunable_conf(conf: Mapping[str, Any], encoder: str) -> None:
    """Raise naming the ``encoder_conf`` key whose value (given, or ESPnet's default, which for the
    attention is relative positions) static pruning does not support."""
    check_supported(conf, _SUPPORTED, EBranchformerEncoder, "encoder", encoder)


def use_pruned_layers(
    encoder: EBranchformerEncoder, layer_sizes: Sequence[Mapping[str, Any]], conf: Mapping[str, Any]
) -> list[LayerSizes]:
    """Replace ``encoder``'s stock layers by layers at ``layer_sizes``; make loading them strict.

    ``conf`` is the ``encoder_conf`` the stock layers were built from (checked beforehand with
    :func:`check_prunable_conf`).
    """
    sizes = read_layer_sizes(LayerSizes, layer_sizes, "encoder", len(encoder.encoders))
    stock, d = encoder.encoders[0], encoder.output_size()
    layers = [
        PrunedEBranchformerLayer(
            d, s, head_dim=stock.attn.d_k, ff_scale=stock.ff_scale,
            dropout_rate=conf.get("dropout_rate", 0.1),
            attention_dropout_rate=conf.get("attention_dropout_rate", 0.0),
            cgmlp_conv_kernel=stock.cgmlp.csgu.conv.kernel_size[0],
            gate_activation=conf.get("gate_activation", "identity"),
            merge_conv_kernel=stock.depthwise_conv_fusion.kernel_size[0],
            ffn_activation_type=conf.get("ffn_activation_type", "swish"),
        )
        for s in sizes
    ]  # fmt: skip
    encoder.encoders = type(encoder.encoders)(*layers)
    encoder._register_load_state_dict_pre_hook(check_loaded_sizes("encoder", "encoders"), with_module=True)
    return sizes


class EBranchformerPrunedEncoder(EBranchformerEncoder):
    """ESPnet's E-Branchformer encoder with layers at their exported sizes.

    Args:
        input_size: input feature dimension.
        layer_sizes: one mapping per layer (``ffn1_units``, ``attn_qk``, ``attn_vo``,
            ``cgmlp_channels``, ``ffn2_units``).
        **kwargs: the unpruned model's ``e_branchformer`` keys (``num_blocks`` must equal
            the number of ``layer_sizes`` entries).
    """

    @typechecked
    def __init__(self, input_size: int, layer_sizes: Sequence[Mapping[str, Any]], **kwargs) -> None:
        check_prunable_conf(kwargs, "e_branchformer_pruned")
        super().__init__(input_size, **kwargs)
        self.layer_sizes = use_pruned_layers(self, layer_sizes, kwargs)

    def pruned_conf(self) -> dict[str, Any]:
        """The ``encoder_conf`` keys pruning adds (what rebuilds this encoder with ESPnet's keys)."""
        return {"layer_sizes": [s.as_dict() for s in self.layer_sizes]}
