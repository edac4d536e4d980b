"""One stock decoder layer under masks: masks of ones are the stock layer, a removed module is the
identity, and the layer's pruned state loads into the smaller layer, which computes the masked one."""

import pytest
import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.nets.espnet_compat import subsequent_mask
from espnet_dynprune.nets.layers.transformer_prunable_layer import (
    DECODER_GROUPS,
    DecoderLayerMasks,
    masked_decoder_layer_forward,
)
from espnet_dynprune.nets.layers.transformer_pruned_layer import PrunedDecoderLayer
from tests.builders.tiny_nets import DECODER_CONF


def stock_layer() -> torch.nn.Module:
    torch.manual_seed(0)
    layer = TransformerDecoder(10, 32, **DECODER_CONF).decoders[0].eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.2 * torch.randn_like(p))  # norms and biases away from their 1/0 init
    return layer


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(2, 5, 32), subsequent_mask(5).unsqueeze(0).expand(2, 5, 5), torch.randn(2, 8, 32)


def masks_of(layer, groups=DECODER_GROUPS) -> DecoderLayerMasks:
    return DecoderLayerMasks(layer, groups, 0.9, True, 1.0)


def test_no_masks_is_the_stock_layer():
    layer = stock_layer()
    tgt, tgt_mask, memory = inputs()
    values = masks_of(layer, []).values()
    assert set(values) == {"self_attn_qk", "self_attn_vo", "src_attn_qk", "src_attn_vo", "ffn_units",
                           "self_attn", "src_attn", "ffn"} and not any(v is not None for v in values.values())
    with torch.no_grad():
        assert torch.allclose(masked_decoder_layer_forward(layer, tgt, tgt_mask, memory, None, values),
                              layer(tgt, tgt_mask, memory, None)[0], atol=1e-5)


def test_a_module_with_no_value_dim_left_is_the_identity():
    layer = stock_layer()
    tgt, tgt_mask, memory = inputs()
    values = {**masks_of(layer, []).values(), "src_attn_vo": torch.zeros(32)}
    with torch.no_grad():
        out = masked_decoder_layer_forward(layer, tgt, tgt_mask, memory, None, values)
        layer.src_attn = None
        x = tgt + layer.dropout(layer.self_attn(layer.norm1(tgt), layer.norm1(tgt), layer.norm1(tgt), tgt_mask))
        expected = x + layer.feed_forward(layer.norm3(x))
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_pruned_state_loads_into_the_smaller_layer_which_computes_the_masked_one(seed):
    layer = stock_layer()
    masks = masks_of(layer).eval()
    gen = torch.Generator().manual_seed(seed)
    for mask in masks.masks.values():
        mask.set_log_alpha(torch.randn(mask.num_units, generator=gen) * 3 + 1)
    tgt, tgt_mask, memory = inputs()
    sizes, state = masks.pruned_state(layer)
    pruned = PrunedDecoderLayer(32, sizes, layer.self_attn.d_k, 0.0, 0.0, 0.0).eval()
    pruned.load_state_dict(state)
    assert sum(p.numel() for p in pruned.parameters()) == masks.sizes_params(sizes) < masks.dense_params()
    with torch.no_grad():
        masked = masked_decoder_layer_forward(layer, tgt, tgt_mask, memory, None, masks.values())
        assert torch.allclose(pruned(tgt, tgt_mask, memory, None)[0], masked, atol=1e-4)


def test_an_unknown_group_is_named_with_its_key():
    with pytest.raises(ValueError, match=r"decoder_conf prune_groups has unknown mask groups \['cgmlp'\]"):
        masks_of(stock_layer(), ["ffn", "cgmlp"])
