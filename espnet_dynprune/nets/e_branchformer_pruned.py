"""The E-Branchformer encoder that static structured pruning exports: smaller for real.

Registered as ``encoder: e_branchformer_pruned``. Its ``encoder_conf`` is the unpruned model's
(ESPnet's ``e_branchformer`` keys) plus ``layer_sizes``, one entry per layer saying what that
layer kept (:class:`~espnet_dynprune.nets.pruned_e_branchformer_layer.LayerSizes`), so the model
rebuilds from its config without any mask. The forward pass is ESPnet's own
(``EBranchformerEncoder.forward``: layer drop, InterCTC, gradient checkpointing); only the layers
differ. The conv2d subsampling front and the final norm are not pruned.

ESPnet loads model files with ``strict=False``; a pre-hook makes loading the layers strict
anyway: a key missing or extra, or a weight whose shape disagrees with ``layer_sizes``, raises
naming the key and the layer's entry. :func:`use_pruned_layers` does the same for the
dynamically gated encoder (static + dynamic pruning).
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Mapping, Sequence

from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from typeguard import typechecked

from espnet_dynprune.nets.checkpoint import added_by_pruning
from espnet_dynprune.nets.pruned_e_branchformer_layer import LayerSizes, PrunedEBranchformerLayer

#: The ``encoder_conf`` values the pruned (and masked) layers implement; any other is refused.
_SUPPORTED = {
    "attention_layer_type": ("selfattn",), "pos_enc_layer_type": ("abs_pos", "scaled_abs_pos"),
    "positionwise_layer_type": ("linear",), "use_linear_after_conv": (False,), "qk_norm": (False,),
}  # fmt: skip
_LAYER_KEY = re.compile(r"^encoders\.(\d+)\.")


def check_prunable_conf(conf: Mapping[str, Any], encoder: str) -> None:
    """Raise naming the ``encoder_conf`` key whose value (given, or ESPnet's default, which for the
    attention is relative positions) static pruning does not support."""
    defaults = inspect.signature(EBranchformerEncoder.__init__).parameters
    for key, allowed in _SUPPORTED.items():
        value = conf.get(key, defaults[key].default)
        if value not in allowed:
            given = "" if key in conf else " (ESPnet's default: set it)"
            raise ValueError(f"encoder: {encoder} supports encoder_conf {key} in {list(allowed)}, got {value!r}{given}")


def use_pruned_layers(
    encoder: EBranchformerEncoder, layer_sizes: Sequence[Mapping[str, Any]], conf: Mapping[str, Any]
) -> list[LayerSizes]:
    """Replace ``encoder``'s stock layers by layers at ``layer_sizes``; make loading them strict.

    ``conf`` is the ``encoder_conf`` the stock layers were built from (checked beforehand with
    :func:`check_prunable_conf`).
    """
    sizes = [LayerSizes.from_dict(entry, f"encoder_conf layer_sizes[{i}]") for i, entry in enumerate(layer_sizes)]
    if len(sizes) != len(encoder.encoders):
        raise ValueError(f"encoder_conf layer_sizes has {len(sizes)} entries but num_blocks is {len(encoder.encoders)}")
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
    encoder._register_load_state_dict_pre_hook(_check_loaded_sizes, with_module=True)
    return sizes


def _check_loaded_sizes(encoder, state_dict, prefix, local_metadata, strict, missing, unexpected, errors) -> None:
    """Compare the weights being loaded with the sizes the layers were built at (keys that pruning
    adds to a stock model, such as a gate predictor's, may be absent)."""
    own = {k: v.shape for k, v in encoder.state_dict().items()}
    given = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    problems = []
    for key in sorted(set(own) | set(given)):
        match = _LAYER_KEY.match(key)
        where = f" (encoder_conf layer_sizes[{match.group(1)}])" if match else ""
        if key not in given and added_by_pruning(key):
            continue
        if key not in given:
            problems.append(f"  {prefix}{key}: missing from the weights{where}")
        elif key not in own:
            problems.append(f"  {prefix}{key}: in the weights but not in the model{where}")
        elif tuple(given[key].shape) != tuple(own[key]):
            problems.append(f"  {prefix}{key}: weights {tuple(given[key].shape)}, the config's sizes {tuple(own[key])}{where}")
    if problems:
        raise ValueError("the pruned encoder's layer_sizes disagree with its weights:\n" + "\n".join(problems[:20])
                         + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))


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
