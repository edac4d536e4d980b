"""PrunedEBranchformerLayer's removed modules, merge and macaron scale."""

import re

import pytest
import torch

from espnet_dynprune.nets.espnet_compat import make_pad_mask, mask_padded_frames
from espnet_dynprune.nets.layers.e_branchformer_pruned_layer import PrunedEBranchformerLayer
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes

D = 32


def layer(ff_scale=0.5, **sizes):
    torch.manual_seed(0)
    built = PrunedEBranchformerLayer(D, LayerSizes(**sizes), head_dim=8, ff_scale=ff_scale, dropout_rate=0.0,
                                     attention_dropout_rate=0.0, cgmlp_conv_kernel=7, gate_activation="identity",
                                     merge_conv_kernel=7, ffn_activation_type="swish").eval()
    with torch.no_grad():
        for p in built.parameters():
            p.normal_(0, 0.3)  # norms and biases away from their 1/0 init
    return built


def features():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(2, 9, D, generator=gen), ~make_pad_mask(torch.tensor([9, 5]))[:, None, :]


def test_removed_modules_hold_no_parameters():
    bare = layer(ffn2_units=16)
    assert bare.attn is None and bare.cgmlp is None and bare.norm_mha is None and bare.norm_mlp is None
    assert bare.feed_forward_macaron is None and not hasattr(bare, "norm_ff_macaron")
    assert bare.depthwise_conv_fusion is None and bare.merge_proj is None and bare.merge_bias.shape == (D,)
    assert bare.feed_forward.w_1.out_features == 16
    assert all(not k.startswith(("attn.", "cgmlp.", "feed_forward_macaron.", "norm_ff_macaron.", "norm_mha.",
                                  "norm_mlp.", "depthwise_conv_fusion.", "merge_proj.")) for k in bare.state_dict())


@pytest.mark.parametrize("sizes", [dict(attn_qk=[8, 2], attn_vo=[3, 8]), dict(cgmlp_channels=5)])
def test_one_branch_left_merges_only_that_branch(sizes):
    one = layer(**sizes)
    assert one.depthwise_conv_fusion.in_channels == D and one.merge_proj.in_features == D
    assert one.merge_bias is None
    x, mask = features()
    with torch.no_grad():
        (branch,) = one.branches(x, mask)
        fused = one.depthwise_conv_fusion(mask_padded_frames(branch.transpose(1, 2), mask)).transpose(1, 2)  # as ESPnet
        expected = one.norm_final(x + one.merge_proj(branch + fused))
        assert torch.allclose(one(x, mask)[0], expected, atol=1e-5)


def test_both_branches_kept_use_the_stock_merge_width():
    both = layer(attn_qk=[8], attn_vo=[8], cgmlp_channels=4)
    assert both.depthwise_conv_fusion.in_channels == 2 * D and both.merge_proj.in_features == 2 * D
    assert both.cgmlp.channel_proj2.in_features == 4 and both.cgmlp.channel_proj1[0].out_features == 8


def test_no_branch_left_adds_the_merge_bias_and_ffn2_keeps_the_macaron_scale():
    bare = layer(ff_scale=0.5, ffn2_units=16)
    x, mask = features()
    with torch.no_grad():
        h = x + bare.merge_bias
        expected = bare.norm_final(h + 0.5 * bare.feed_forward(bare.norm_ff(h)))
        assert torch.allclose(bare(x, mask)[0], expected, atol=1e-5)
        empty = layer()  # nothing at all left: norm_final(x + merge_bias)
        out, mask_out = empty(x, mask)
        assert torch.allclose(out, empty.norm_final(x + empty.merge_bias), atol=1e-6) and mask_out is mask


def test_tuple_input_or_cache_raise_not_implemented():
    x, mask = features()
    with pytest.raises(NotImplementedError, match=re.escape("absolute positions only")):
        layer(ffn1_units=3)((x, x[:1]), mask)
    with pytest.raises(NotImplementedError):
        layer(ffn1_units=3)(x, mask, cache=x)
