"""masked_layer_forward: the stock layer under masks of ones, masks folded into weights, and removed modules."""

import copy

import pytest
import torch
import torch.nn.functional as F
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.espnet_compat import LayerNorm, make_pad_mask
from espnet_dynprune.nets.layers.e_branchformer_prunable_layer import masked_layer_forward
from espnet_dynprune.nets.layers.prunable_units import kept_channel_norm
from tests.builders.tiny_static import INPUT_SIZE, conf

SIZES = {"attn_qk": 32, "attn_vo": 32, "cgmlp_channels": 32, "ffn1_units": 64, "ffn2_units": 64,
         "attn": 1, "cgmlp": 1, "ffn1": 1, "ffn2": 1}  # fmt: skip


def stock_layer(**extra):
    torch.manual_seed(0)
    layer = EBranchformerEncoder(INPUT_SIZE, **conf(**extra)).encoders[0].eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.2 * torch.randn_like(p))  # norms and biases away from their 1/0 init
    return layer


def features():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(3, 11, 32, generator=gen), ~make_pad_mask(torch.tensor([11, 8, 4]))[:, None, :]


def ones(**changes):
    return {**{n: torch.ones(c) for n, c in SIZES.items()}, **changes}


def run(layer, values):
    x, mask = features()
    with torch.no_grad():
        return masked_layer_forward(layer, x, mask, values)


def stock_run(layer):
    x, mask = features()
    with torch.no_grad():
        return layer(x, mask)[0]


@pytest.mark.parametrize("extra", [{}, {"macaron_ffn": False}])
@pytest.mark.parametrize("kind", ["none", "ones"])
def test_masks_of_ones_or_no_masks_give_the_stock_layer(extra, kind):
    layer = stock_layer(**extra)
    names = [n for n in SIZES if extra.get("macaron_ffn", True) or not n.startswith("ffn1")]
    values = {n: (None if kind == "none" else torch.ones(SIZES[n])) for n in names}
    assert torch.allclose(run(layer, values), stock_run(layer), atol=1e-5)


def test_unit_values_act_as_the_weights_that_follow_them_scaled():
    """Values in (0, 1] everywhere: the same as the stock layer with each value folded into a weight."""
    layer = stock_layer()
    gen = torch.Generator().manual_seed(2)
    values = {n: 0.2 + 0.8 * torch.rand(c, generator=gen) for n, c in SIZES.items()}
    folded = copy.deepcopy(layer)
    with torch.no_grad():
        folded.attn.linear_q.weight.mul_(values["attn_qk"][:, None])
        folded.attn.linear_q.bias.mul_(values["attn_qk"])
        for module, units, whole, linear in (
            (folded.attn, "attn_vo", "attn", "linear_out"),
            (folded.feed_forward_macaron, "ffn1_units", "ffn1", "w_2"),
            (folded.feed_forward, "ffn2_units", "ffn2", "w_2"),
            (folded.cgmlp, "cgmlp_channels", "cgmlp", "channel_proj2"),
        ):
            getattr(module, linear).weight.mul_(values[units] * values[whole])
            getattr(module, linear).bias.mul_(values[whole])
    assert torch.allclose(run(layer, values), stock_run(folded), atol=1e-5)


def test_kept_channel_norm_with_every_channel_kept_is_the_layer_norm():
    torch.manual_seed(0)
    norm = LayerNorm(12)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 5, 12) * 3 + 1
    with torch.no_grad():
        assert torch.allclose(kept_channel_norm(norm, x, torch.ones(12, dtype=torch.bool)), norm(x), atol=1e-5)


def kept_setup():
    torch.manual_seed(0)
    norm = LayerNorm(12)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    keep = torch.tensor([1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0], dtype=torch.bool)
    return norm, torch.randn(2, 5, 12) * 3 + 1, keep


def test_kept_channel_norm_normalises_over_the_kept_channels_only():
    norm, x, keep = kept_setup()
    with torch.no_grad():
        out = kept_channel_norm(norm, x, keep)
        small = F.layer_norm(x[..., keep], (int(keep.sum()),), norm.weight[keep], norm.bias[keep], norm.eps)
        assert torch.allclose(out[..., keep], small, atol=1e-5)
        changed = x.clone()
        changed[..., ~keep] = 1e3  # what the dropped channels hold does not matter
        assert torch.allclose(kept_channel_norm(norm, changed, keep)[..., keep], small, atol=1e-5)


def test_kept_channel_norm_dropped_channels_come_out_zero():
    """Its docstring: "the others come out 0", whatever the norm's bias."""
    norm, x, keep = kept_setup()
    with torch.no_grad():
        out = kept_channel_norm(norm, x, keep)
    dropped = out[..., ~keep]
    assert torch.equal(dropped, torch.zeros_like(dropped)), f"dropped channels hold {dropped[0, 0]} (norm.bias[~keep])"


def without(layer, **attrs):
    removed = copy.deepcopy(layer)
    for name, value in attrs.items():
        setattr(removed, name, value)
    return removed


def zeroed(layer, module, linear):
    removed = copy.deepcopy(layer)
    with torch.no_grad():
        getattr(getattr(removed, module), linear).weight.zero_()
        getattr(getattr(removed, module), linear).bias.zero_()
    return removed


@pytest.mark.parametrize(
    "units, whole, reference",
    [
        ("ffn1_units", "ffn1", lambda layer: without(layer, feed_forward_macaron=None)),
        ("ffn2_units", "ffn2", lambda layer: without(layer, feed_forward=None)),
        ("attn_vo", "attn", lambda layer: zeroed(layer, "attn", "linear_out")),
        ("cgmlp_channels", "cgmlp", lambda layer: zeroed(layer, "cgmlp", "channel_proj2")),
    ],
)
def test_a_module_with_every_unit_zero_contributes_nothing(units, whole, reference):
    layer = stock_layer()
    no_units = run(layer, ones(**{units: torch.zeros(SIZES[units])}))
    no_module = run(layer, ones(**{whole: torch.zeros(1)}))
    removed = reference(layer)
    assert removed.ff_scale == 0.5  # removing FFN1 keeps the macaron scale
    assert torch.allclose(no_units, no_module, atol=1e-6)
    assert torch.allclose(no_units, stock_run(removed), atol=1e-5)
    assert not torch.allclose(no_units, stock_run(layer), atol=1e-3)


def test_query_key_dims_all_zero_is_uniform_attention_not_removal():
    layer = stock_layer()
    uniform = run(layer, ones(attn_qk=torch.zeros(32)))
    assert not torch.allclose(uniform, run(layer, ones(attn=torch.zeros(1))), atol=1e-3)
    with torch.no_grad():
        flat = copy.deepcopy(layer)
        flat.attn.linear_q.weight.zero_()
        flat.attn.linear_q.bias.zero_()
    assert torch.allclose(uniform, stock_run(flat), atol=1e-5)
