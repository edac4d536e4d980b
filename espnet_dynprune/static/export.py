"""Physical removal: a masked (prunable) encoder or decoder becomes a really smaller one.

Kept rows and columns are copied with ``index_select``; the inference masks' values (in (0, 1])
are folded into the weight that follows them (query/key values into ``linear_q``, value/output
values into ``linear_out``'s columns, FFN unit values into ``w_2``'s columns, CSGU channel values
into ``channel_proj2``'s columns, whole-module values into the module's last weight and bias).
A removed attention or cgMLP branch feeds zeros to the merge in the masked model; the merge's
depthwise conv turns zeros into its bias, a constant, which is folded into ``merge_proj``'s
bias, so the merge reads only the branches left. A removed decoder module is the identity in
both models (its residual adds exactly 0 in the masked one).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer

from espnet_dynprune.nets.e_branchformer_pruned import EBranchformerPrunedEncoder
from espnet_dynprune.nets.espnet_compat import DecoderLayer
from espnet_dynprune.nets.layer_sizes import DecoderLayerSizes, LayerSizes
from espnet_dynprune.nets.transformer_pruned import TransformerPrunedDecoder
from espnet_dynprune.static.decoder_layer_masks import DecoderLayerMasks
from espnet_dynprune.static.e_branchformer_prunable import EBranchformerPrunableEncoder
from espnet_dynprune.static.layer_masks import LayerMasks, UnitMasks
from espnet_dynprune.static.transformer_prunable import TransformerPrunableDecoder

State = dict[str, torch.Tensor]


def _kept(values: Optional[torch.Tensor], count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices of the kept units, their mask values); no mask: all units with value 1."""
    if values is None:
        return torch.arange(count), torch.ones(count)
    index = (values > 0).nonzero().squeeze(1)
    return index, values[index]


def _copy_norm(state: State, prefix: str, norm: torch.nn.Module, index: Optional[torch.Tensor] = None) -> None:
    for name in ("weight", "bias"):
        value = getattr(norm, name)
        state[f"{prefix}.{name}"] = value if index is None else value[index]


def _feed_forward(state: State, prefix: str, norm_prefix: str, layer, units: Optional[torch.Tensor], scale: float) -> None:
    ffn, norm = getattr(layer, prefix), getattr(layer, norm_prefix)
    index, values = _kept(units, ffn.w_1.out_features)
    _copy_norm(state, norm_prefix, norm)
    state[f"{prefix}.w_1.weight"] = ffn.w_1.weight[index]
    state[f"{prefix}.w_1.bias"] = ffn.w_1.bias[index]
    state[f"{prefix}.w_2.weight"] = ffn.w_2.weight[:, index] * values * scale
    state[f"{prefix}.w_2.bias"] = ffn.w_2.bias * scale


def _attention(
    state: State, prefix: str, norm_prefix: str, layer, qk: Optional[torch.Tensor], vo: Optional[torch.Tensor],
    scale: float,
) -> None:  # fmt: skip
    attn = getattr(layer, prefix)
    dk = attn.d_k
    qk_index, qk_values = _kept(qk, attn.h * dk)
    vo_index, vo_values = _kept(vo, attn.h * dk)
    heads_kept = sorted({int(i) // dk for i in vo_index})
    keep_qk = torch.isin(qk_index // dk, torch.tensor(heads_kept))
    qk_index, qk_values = qk_index[keep_qk], qk_values[keep_qk]
    _copy_norm(state, norm_prefix, getattr(layer, norm_prefix))
    state[f"{prefix}.linear_q.weight"] = attn.linear_q.weight[qk_index] * qk_values[:, None]
    state[f"{prefix}.linear_q.bias"] = attn.linear_q.bias[qk_index] * qk_values
    state[f"{prefix}.linear_k.weight"] = attn.linear_k.weight[qk_index]
    state[f"{prefix}.linear_k.bias"] = attn.linear_k.bias[qk_index]
    state[f"{prefix}.linear_v.weight"] = attn.linear_v.weight[vo_index]
    state[f"{prefix}.linear_v.bias"] = attn.linear_v.bias[vo_index]
    state[f"{prefix}.linear_out.weight"] = attn.linear_out.weight[:, vo_index] * vo_values * scale
    state[f"{prefix}.linear_out.bias"] = attn.linear_out.bias * scale


def _cgmlp(state: State, layer, channels: Optional[torch.Tensor], scale: float) -> None:
    cgmlp, csgu = layer.cgmlp, layer.cgmlp.csgu
    half = cgmlp.channel_proj2.in_features
    index, values = _kept(channels, half)
    pairs = torch.cat([index, index + half])  # value channel j and its gate channel half + j
    _copy_norm(state, "norm_mlp", layer.norm_mlp)
    state["cgmlp.channel_proj1.0.weight"] = cgmlp.channel_proj1[0].weight[pairs]
    state["cgmlp.channel_proj1.0.bias"] = cgmlp.channel_proj1[0].bias[pairs]
    _copy_norm(state, "cgmlp.csgu.norm", csgu.norm, index)
    state["cgmlp.csgu.conv.weight"] = csgu.conv.weight[index]
    state["cgmlp.csgu.conv.bias"] = csgu.conv.bias[index]
    state["cgmlp.channel_proj2.weight"] = cgmlp.channel_proj2.weight[:, index] * values * scale
    state["cgmlp.channel_proj2.bias"] = cgmlp.channel_proj2.bias * scale


def _merge(state: State, layer, kept: tuple[bool, bool]) -> None:
    """Keep the merge channels of the branches left; fold the removed ones' constant."""
    d = layer.size
    channels = torch.arange(2 * d)
    keep = torch.tensor(kept).repeat_interleave(d)  # the attention half, then the cgMLP half
    index, removed = channels[keep], channels[~keep]
    conv, proj = layer.depthwise_conv_fusion, layer.merge_proj
    bias = proj.bias + proj.weight[:, removed] @ conv.bias[removed]
    if not index.numel():
        state["merge_bias"] = bias
        return
    state["depthwise_conv_fusion.weight"] = conv.weight[index]
    state["depthwise_conv_fusion.bias"] = conv.bias[index]
    state["merge_proj.weight"] = proj.weight[:, index]
    state["merge_proj.bias"] = bias


def _inference_values(masks: UnitMasks) -> tuple[dict, Callable[[str], float]]:
    """The masks' deterministic values, and a whole module's value (1.0 when not masked)."""
    was_training = masks.training
    masks.eval()
    values = masks.values()
    masks.train(was_training)

    def whole(name: str) -> float:
        return 1.0 if values.get(name) is None else float(values[name])

    return values, whole


def _detached(state: State) -> State:
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


@torch.no_grad()
def pruned_layer_state(layer: EBranchformerEncoderLayer, masks: LayerMasks) -> tuple[LayerSizes, State]:
    """The sizes a layer's inference masks keep, and the smaller layer's state dict."""
    values, whole = _inference_values(masks)
    sizes = masks.sizes()
    state: State = {}
    if sizes.ffn1_units:
        _feed_forward(state, "feed_forward_macaron", "norm_ff_macaron", layer, values.get("ffn1_units"), whole("ffn1"))
    if sizes.has_attention:
        _attention(state, "attn", "norm_mha", layer, values.get("attn_qk"), values.get("attn_vo"), whole("attn"))
    if sizes.cgmlp_channels:
        _cgmlp(state, layer, values.get("cgmlp_channels"), whole("cgmlp"))
    _merge(state, layer, (sizes.has_attention, bool(sizes.cgmlp_channels)))
    if sizes.ffn2_units:
        _feed_forward(state, "feed_forward", "norm_ff", layer, values.get("ffn2_units"), whole("ffn2"))
    _copy_norm(state, "norm_final", layer.norm_final)
    return sizes, _detached(state)


@torch.no_grad()
def pruned_decoder_layer_state(layer: DecoderLayer, masks: DecoderLayerMasks) -> tuple[DecoderLayerSizes, State]:
    """The sizes a decoder layer's inference masks keep, and the smaller layer's state dict."""
    values, whole = _inference_values(masks)
    sizes = masks.sizes()
    state: State = {}
    for attention, norm in (("self_attn", "norm1"), ("src_attn", "norm2")):
        if getattr(sizes, f"{attention}_vo"):
            _attention(state, attention, norm, layer, values.get(f"{attention}_qk"), values.get(f"{attention}_vo"),
                       whole(attention))
    if sizes.ffn_units:
        _feed_forward(state, "feed_forward", "norm3", layer, values.get("ffn_units"), whole("ffn"))
    return sizes, _detached(state)


def _export(part, layers: str, layer_state: Callable, build: Callable):
    """The smaller part: ``build(layer_sizes)`` loaded with the kept weights of every layer."""
    state = {k: v for k, v in part.state_dict().items() if not k.startswith((f"{layers}.", "layer_masks."))}
    layer_sizes = []
    for i, (layer, masks) in enumerate(zip(getattr(part, layers), part.layer_masks)):
        sizes, kept = layer_state(layer, masks)
        layer_sizes.append(sizes.as_dict())
        state.update({f"{layers}.{i}.{k}": v for k, v in kept.items()})
    pruned = build(layer_sizes)
    pruned.load_state_dict(state)
    return pruned.train(part.training)


@torch.no_grad()
def export_encoder(encoder: EBranchformerPrunableEncoder) -> EBranchformerPrunedEncoder:
    """The smaller encoder computing what ``encoder`` computes in eval (its inference masks)."""
    if not isinstance(encoder, EBranchformerPrunableEncoder):
        raise TypeError(f"only an e_branchformer_prunable encoder has masks to export, got {type(encoder).__name__}")
    return _export(encoder, "encoders", pruned_layer_state, lambda sizes: EBranchformerPrunedEncoder(
        encoder.input_size, layer_sizes=sizes, **encoder.espnet_conf))


@torch.no_grad()
def export_decoder(decoder: TransformerPrunableDecoder) -> TransformerPrunedDecoder:
    """The smaller decoder computing what ``decoder`` computes in eval (its inference masks)."""
    if not isinstance(decoder, TransformerPrunableDecoder):
        raise TypeError(f"only a transformer_prunable decoder has masks to export, got {type(decoder).__name__}")
    return _export(decoder, "decoders", pruned_decoder_layer_state, lambda sizes: TransformerPrunedDecoder(
        decoder.vocab_size, decoder.encoder_output_size, layer_sizes=sizes, **decoder.espnet_conf))
