"""LayerMasks: which masks exist per group, the inference masks at init, and the parameter counts."""

import re

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.layers.e_branchformer_prunable_layer import GROUPS, LayerMasks
from espnet_dynprune.nets.layers.prunable_units import check_groups
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes
from tests.builders.tiny_static import INPUT_SIZE, conf, prunable_params


def layer_params(d, cgmlp_kernel, merge_kernel, *, ffn1, attn, cgmlp, ffn2):
    """The prunable parameters of an E-Branchformer layer, written out: each module ``(kept units...,
    alive)`` (FFN: norm, w_1, w_2; attention: norm, q, k, v, out; cgMLP: norm, channel_proj1, CSGU norm,
    depthwise conv, channel_proj2; the merge over the branches left)."""
    def ffn(n):
        return 2 * d + n * (d + 1) + n * d + d

    (qk, vo, attn_alive), (c, cgmlp_alive) = attn, cgmlp
    attention = 2 * d + 2 * qk * (d + 1) + vo * (d + 1) + vo * d + d
    gating = 2 * d + 2 * c * (d + 1) + 2 * c + c * (cgmlp_kernel + 1) + c * d + d
    branches = attn_alive + cgmlp_alive
    merge = branches * d * (merge_kernel + 1) + branches * d * d + d
    return (ffn1[1] * ffn(ffn1[0]) + attn_alive * attention + cgmlp_alive * gating + merge
            + ffn2[1] * ffn(ffn2[0]))

D = 32


def stock_layer(**extra):
    torch.manual_seed(0)
    return EBranchformerEncoder(INPUT_SIZE, **conf(**extra)).encoders[0]


def masks_of(layer, groups=GROUPS, init_keep=0.99, straight_through=True):
    return LayerMasks(layer, groups, init_keep, straight_through, lr_scale=1.0)


@pytest.mark.parametrize("extra", [{}, {"macaron_ffn": False}, {"use_ffn": False}, {"cgmlp_linear_units": 48}])
def test_dense_params_is_the_stock_layer_less_its_final_norm(extra):
    layer = stock_layer(**extra)
    masks = masks_of(layer)
    assert masks.dense_params() == prunable_params(layer)
    full = LayerSizes(ffn1_units=masks.units.get("ffn1_units", 0), attn_qk=[8] * 4, attn_vo=[8] * 4,
                      cgmlp_channels=masks.units["cgmlp_channels"], ffn2_units=masks.units.get("ffn2_units", 0))
    assert masks.sizes_params(full) == masks.dense_params()


def test_fresh_inference_masks_drop_round_one_percent_of_each_group():
    """init_keep 0.99: a group keeps round(0.99 N) units, so the 64 FFN units lose one each while
    the 32-unit groups and the whole modules keep everything, at value exactly 1."""
    masks = masks_of(stock_layer()).eval()
    values = masks.values()
    for name in ("attn_qk", "attn_vo", "cgmlp_channels", "attn", "cgmlp", "ffn1", "ffn2"):
        assert torch.equal(values[name], torch.ones_like(values[name])), name
    for name in ("ffn1_units", "ffn2_units"):
        assert int((values[name] == 0).sum()) == 1 and int((values[name] == 1).sum()) == 63
    sizes = masks.sizes()
    assert sizes == LayerSizes(ffn1_units=63, attn_qk=[8] * 4, attn_vo=[8] * 4, cgmlp_channels=32, ffn2_units=63)
    assert masks.dense_params() - masks.sizes_params(sizes) == 2 * (2 * D + 1)  # one w_1 row + one w_2 column each


def test_all_masks_kept_keep_everything():
    masks = masks_of(stock_layer()).eval()
    for mask in masks.masks.values():
        mask.set_log_alpha(10.0)
    assert all(torch.equal(v, torch.ones_like(v)) for v in masks.values().values())
    assert masks.sizes_params(masks.sizes()) == masks.dense_params()
    assert masks.expected_params().item() == pytest.approx(masks.dense_params(), rel=1e-3)


def test_expected_params_is_differentiable_and_falls_with_log_alpha():
    masks = masks_of(stock_layer())
    expected = masks.expected_params()
    expected.backward()
    for name, mask in masks.masks.items():
        assert mask.scaled_log_alpha.grad is not None and (mask.scaled_log_alpha.grad > 0).all(), name
    for name in ("ffn1_units", "attn_qk", "cgmlp_channels", "attn", "ffn2"):
        with torch.no_grad():
            before = masks.expected_params().item()
            mask = masks.masks[name]
            mask.set_log_alpha(torch.cat([mask.log_alpha[:1] - 4.0, mask.log_alpha[1:]]))
            assert masks.expected_params().item() < before, name


def test_expected_params_is_the_analytic_count_at_expected_sizes():
    masks = masks_of(stock_layer(), init_keep=0.7)
    p = 0.7
    expected = layer_params(D, 7, 7, ffn1=(64 * p, p), attn=(32 * p, 32 * p, p), cgmlp=(32 * p, p), ffn2=(64 * p, p))
    assert masks.expected_params().item() == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("groups", [["ffn_units", "heads"], ["attention"], ["cgmlp_channel"]])
def test_unknown_groups_raise_naming_them(groups):
    unknown = sorted(set(groups) - set(GROUPS))
    with pytest.raises(ValueError, match=re.escape(f"unknown mask groups {unknown}")):
        check_groups(groups, GROUPS, "encoder_conf")
    with pytest.raises(ValueError, match=unknown[0]):
        masks_of(stock_layer(), groups)


@pytest.mark.parametrize(
    "groups, names",
    [
        (["ffn_units"], {"ffn1_units", "ffn2_units"}),
        (["ffn"], {"ffn1", "ffn2"}),
        (["attn", "cgmlp_channels"], {"attn", "cgmlp_channels"}),
        (["attn_qk", "attn_vo"], {"attn_qk", "attn_vo"}),
        ([], set()),
        (GROUPS, {"attn_qk", "attn_vo", "attn", "ffn1_units", "ffn2_units", "ffn1", "ffn2", "cgmlp_channels", "cgmlp"}),
    ],
)
def test_groups_decide_which_masks_exist(groups, names):
    masks = masks_of(stock_layer(), groups)
    assert set(masks.masks) == names
    values = masks.eval().values()
    assert set(values) == set(masks.units) | set(masks.modules_present)
    assert {n for n, v in values.items() if v is not None} == names
    assert all(masks.masks[n].num_units == 1 for n in names & {"attn", "cgmlp", "ffn1", "ffn2"})


@pytest.mark.parametrize("units", [64, 48])
def test_cgmlp_channel_masks_cover_the_csgu_channel_pairs(units):
    layer = stock_layer(cgmlp_linear_units=units)
    masks = masks_of(layer)
    assert masks.masks["cgmlp_channels"].num_units == layer.cgmlp.channel_proj2.in_features == units // 2
    assert masks.masks["attn_qk"].num_units == masks.masks["attn_vo"].num_units == D


def test_a_layer_without_macaron_ffn_has_no_ffn1_masks():
    masks = masks_of(stock_layer(macaron_ffn=False))
    assert not {"ffn1", "ffn1_units"} & (set(masks.masks) | set(masks.values()))
    assert "ffn1" not in masks.modules_present and set(masks.masks) >= {"ffn2", "ffn2_units"}
    assert masks.sizes().ffn1_units == 0
    assert not {n for n in masks_of(stock_layer(use_ffn=False)).masks if n.startswith("ffn")}


def test_sizes_drop_heads_without_value_dims_and_removed_modules():
    masks = masks_of(stock_layer()).eval()
    for mask in masks.masks.values():
        mask.set_log_alpha(10.0)
    masks.masks["attn_vo"].set_log_alpha(torch.tensor([10.0] * 8 + [-10.0] * 8 + [10.0] * 3 + [-10.0] * 5 + [10.0] * 8))
    masks.masks["attn_qk"].set_log_alpha(torch.tensor([10.0] * 8 + [10.0] * 8 + [-10.0] * 8 + [-10.0] * 2 + [10.0] * 6))
    masks.masks["cgmlp"].set_log_alpha(-10.0)
    masks.masks["ffn2_units"].set_log_alpha(-10.0)
    sizes = masks.sizes()
    assert sizes == LayerSizes(ffn1_units=64, attn_qk=[8, 0, 6], attn_vo=[8, 3, 8], cgmlp_channels=0, ffn2_units=0)
    assert masks.sizes_params(sizes) == layer_params(D, 7, 7, ffn1=(64, 1), attn=(14, 19, 1), cgmlp=(0, 0), ffn2=(0, 0))
