"""The gated forward over one stock E-Branchformer layer: all kept is the stock layer, a skipped
module does not run and leaves what the layer would compute without it, a skipped layer is the identity."""

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.espnet_compat import make_pad_mask
from espnet_dynprune.nets.layers.e_branchformer_dynprune_layer import (
    ATTN,
    CGMLP,
    FFN1,
    FFN2,
    layer_gated_forward,
    layer_module_types,
    module_gated_forward,
    unit_macs_per_frame,
)
from tests.builders.tiny_nets import ENCODER_CONF


def stock_layer(**extra) -> torch.nn.Module:
    torch.manual_seed(0)
    return EBranchformerEncoder(20, **{**ENCODER_CONF, **extra}).encoders[0].eval()


def features() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(3, 9, 32), ~make_pad_mask(torch.tensor([9, 7, 4]))[:, None, :]


def decide(layer, keep: dict[str, list[float]]) -> tuple[GateDecision, callable]:
    """Keep values per module (one per row; 1 where not given) and the gate index of each module."""
    names = layer_module_types(layer)
    values = torch.tensor([keep.get(name, [1.0, 1.0, 1.0]) for name in names]).T
    return GateDecision(values, list(names), skip_rows=True, num_frames=9), names.index


def calls(module: torch.nn.Module) -> list[int]:
    """Rows each forward of ``module`` ran on."""
    rows: list[int] = []
    module.register_forward_hook(lambda _m, args, _out: rows.append(args[0].size(0)))
    return rows


@pytest.mark.parametrize("extra", [{}, {"macaron_ffn": False}, {"use_ffn": False}])
def test_every_module_kept_is_the_stock_layer(extra):
    layer = stock_layer(**extra)
    x, mask = features()
    decision, gate_of = decide(layer, {})
    with torch.no_grad():
        assert torch.allclose(module_gated_forward(layer, x, mask, None, decision, gate_of), layer(x, mask)[0],
                              atol=1e-5)


def test_a_skipped_ffn_does_not_run_and_leaves_the_layer_without_it():
    layer = stock_layer()
    x, mask = features()
    ffn1_rows = calls(layer.feed_forward_macaron)
    decision, gate_of = decide(layer, {FFN1: [1.0, 0.0, 1.0]})
    with torch.no_grad():
        gated = module_gated_forward(layer, x, mask, None, decision, gate_of)
        stock = layer(x, mask)[0]
        macaron, layer.feed_forward_macaron = layer.feed_forward_macaron, None
        without = layer(x, mask)[0]
        layer.feed_forward_macaron = macaron
    assert ffn1_rows[0] == 2  # the skipped row never reached FFN1
    assert torch.allclose(gated[[0, 2]], stock[[0, 2]], atol=1e-5)
    assert torch.allclose(gated[1], without[1], atol=1e-5)


def test_both_branches_skipped_skip_the_merge_too():
    layer = stock_layer(use_ffn=False)
    x, mask = features()
    merge_rows = calls(layer.merge_proj)
    decision, gate_of = decide(layer, {ATTN: [0.0, 1.0, 1.0], CGMLP: [0.0, 0.0, 1.0]})
    with torch.no_grad():
        gated = module_gated_forward(layer, x, mask, None, decision, gate_of)
    assert merge_rows == [2]  # rows 1 and 2 keep a branch; row 0 runs no merge at all
    assert torch.allclose(gated[0], layer.norm_final(x[0]), atol=1e-6)


def test_a_skipped_layer_is_the_identity_and_does_not_run():
    layer = stock_layer()
    x, mask = features()
    rows = calls(layer)
    decision = GateDecision(torch.tensor([[0.0], [1.0], [1.0]]), ["layer"], skip_rows=True, num_frames=9)
    with torch.no_grad():
        out = layer_gated_forward(layer, x, mask, None, decision, 0)
        stock = layer(x, mask)[0]
    assert rows[0] == 2
    assert torch.equal(out[0], x[0])
    assert torch.allclose(out[1:], stock[1:], atol=1e-5)


def test_unit_costs_follow_the_sizes_and_attention_grows_with_the_length():
    layer = stock_layer()
    short, long = unit_macs_per_frame(layer, 10), unit_macs_per_frame(layer, 20)
    assert set(short) == {FFN1, ATTN, CGMLP, FFN2, "merge"}
    assert short[FFN1] == short[FFN2] == 2 * 32 * 64
    assert long[ATTN] - short[ATTN] == 10 * (32 + 32)  # scores and context: q/k and v/o dims per frame
    assert all(long[name] == short[name] for name in (FFN1, CGMLP, FFN2, "merge"))
    assert FFN1 not in unit_macs_per_frame(stock_layer(macaron_ffn=False), 10)
