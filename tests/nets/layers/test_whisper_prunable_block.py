"""A stock Whisper block under masks: its units, their counts, the masked forward and the smaller block it exports."""

import pytest
import torch
from whisper.model import ResidualAttentionBlock

from espnet_dynprune.nets.layers.whisper_prunable_block import WhisperBlockMasks, masked_whisper_block_forward
from espnet_dynprune.nets.layers.whisper_pruned_block import PrunedWhisperBlock

D, HEADS = 16, 2


def block_and_masks(groups=("attn_qk", "attn_vo", "attn", "ffn_units", "ffn")):
    torch.manual_seed(0)
    block = ResidualAttentionBlock(D, HEADS).eval()
    return block, WhisperBlockMasks(block, groups, 0.9, True, 1.0).eval()


def test_units_and_counts_follow_whisper_s_block():
    block, masks = block_and_masks()
    assert masks.units == {"attn_qk": D, "attn_vo": D, "mlp_units": 4 * D}
    assert (masks.heads, masks.head_dim) == (HEADS, D // HEADS)
    assert masks.dense_params() == sum(p.numel() for p in block.parameters())  # the key has no bias: not counted
    assert [u.group_of(u.masks[0]) for u in masks.unit_list] == ["attn_qk", "ffn_units"]


def test_every_unit_kept_is_the_stock_block():
    block, masks = block_and_masks()
    x = torch.randn(2, 7, D)
    values = {name: None for name in masks.values()}
    with torch.no_grad():
        assert torch.allclose(masked_whisper_block_forward(block, x, values), block(x), atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_exported_block_computes_the_masked_one_with_the_counted_parameters(seed):
    block, masks = block_and_masks()
    generator = torch.Generator().manual_seed(seed)
    for mask in masks.masks.values():  # some units, heads or a whole module removed, values in (0, 1]
        mask.set_log_alpha(torch.randn(mask.num_units, generator=generator) * 4)
    sizes, state = masks.pruned_state(block)
    pruned = PrunedWhisperBlock(D, sizes, D // HEADS).eval()
    pruned.load_state_dict(state)
    x = torch.randn(2, 7, D, generator=generator)
    with torch.no_grad():
        expected = masked_whisper_block_forward(block, x, masks.values())
        assert torch.allclose(pruned(x), expected, atol=1e-5)
    assert sum(p.numel() for p in pruned.parameters()) == masks.sizes_params(sizes)


def test_an_unknown_group_is_named():
    with pytest.raises(ValueError, match=r"encoder_conf prune_groups has unknown mask groups \['cgmlp_channels'\]"):
        block_and_masks(groups=("attn", "cgmlp_channels"))
