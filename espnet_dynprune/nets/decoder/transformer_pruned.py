"""The Transformer decoder that static structured pruning exports: smaller for real.

Registered as ``decoder: transformer_pruned``. Its ``decoder_conf`` is the unpruned model's
(ESPnet's ``transformer`` keys) plus ``layer_sizes``, one entry per layer saying what that layer
kept (:class:`~espnet_dynprune.nets.layers.layer_sizes.DecoderLayerSizes`), so the model rebuilds from its
config without any mask. Everything else is ESPnet's own ``TransformerDecoder`` (forward,
``forward_one_step``, ``batch_score``, so ESPnet's beam search drives it); only the layers differ.
The embedding, the final norm and the output layer are not pruned. Loading is strict despite
ESPnet's ``strict=False`` (:func:`~espnet_dynprune.nets.layers.layer_sizes.check_loaded_sizes`).
:func:`use_pruned_decoder_layers` does the same for ``transformer_dynprune`` (static + dynamic
pruning, and the cached source keys/values of this project's beam search).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from typeguard import typechecked

from espnet_dynprune.nets.layers.layer_sizes import (
    DecoderLayerSizes,
    check_loaded_sizes,
    check_supported,
    read_layer_sizes,
)
from espnet_dynprune.nets.layers.transformer_pruned_layer import PrunedDecoderLayer

#: The ``decoder_conf`` values the pruned (and masked) layers implement; any other is refused.
_SUPPORTED = {"normalize_before": (True,), "concat_after": (False,), "qk_norm": (False,)}


def check_prunable_decoder_conf(conf: Mapping[str, Any], decoder: str) -> None:
    """Raise naming the ``decoder_conf`` key whose value (given, or ESPnet's default) static
    pruning does not support."""
    check_supported(conf, _SUPPORTED, TransformerDecoder, "decoder", decoder)


def use_pruned_decoder_layers(
    decoder: TransformerDecoder, layer_sizes: Sequence[Mapping[str, Any]], conf: Mapping[str, Any]
) -> list[DecoderLayerSizes]:
    """Replace ``decoder``'s stock layers by layers at ``layer_sizes``; make loading them strict.

    ``conf`` is the ``decoder_conf`` the stock layers were built from (checked beforehand with
    :func:`check_prunable_decoder_conf`).
    """
    sizes = read_layer_sizes(DecoderLayerSizes, layer_sizes, "decoder", len(decoder.decoders))
    stock = decoder.decoders[0]
    layers = [
        PrunedDecoderLayer(
            stock.size, s, head_dim=stock.self_attn.d_k, dropout_rate=conf.get("dropout_rate", 0.1),
            self_attention_dropout_rate=conf.get("self_attention_dropout_rate", 0.0),
            src_attention_dropout_rate=conf.get("src_attention_dropout_rate", 0.0),
        )
        for s in sizes
    ]  # fmt: skip
    decoder.decoders = type(decoder.decoders)(*layers)
    decoder._register_load_state_dict_pre_hook(check_loaded_sizes("decoder", "decoders"), with_module=True)
    return sizes


class TransformerPrunedDecoder(TransformerDecoder):
    """ESPnet's Transformer decoder with layers at their exported sizes.

    Args:
        vocab_size, encoder_output_size: as ESPnet's ``transformer`` decoder.
        layer_sizes: one mapping per layer (``self_attn_qk``, ``self_attn_vo``, ``src_attn_qk``,
            ``src_attn_vo``, ``ffn_units``).
        **kwargs: the unpruned model's ``transformer`` keys (``num_blocks`` must equal the
            number of ``layer_sizes`` entries).
    """

    @typechecked
    def __init__(
        self, vocab_size: int, encoder_output_size: int, layer_sizes: Sequence[Mapping[str, Any]], **kwargs
    ) -> None:
        check_prunable_decoder_conf(kwargs, "transformer_pruned")
        super().__init__(vocab_size, encoder_output_size, **kwargs)
        self.layer_sizes = use_pruned_decoder_layers(self, layer_sizes, kwargs)

    def pruned_conf(self) -> dict[str, Any]:
        """The ``decoder_conf`` keys pruning adds (what rebuilds this decoder with ESPnet's keys)."""
        return {"layer_sizes": [s.as_dict() for s in self.layer_sizes]}
