"""PrunablePart: dense / expected / kept parameters, the kept layer sizes, the export to a smaller part, stock()."""

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes
from espnet_dynprune.nets.layers.prunable_part import PrunablePart
from tests.builders.tiny_static import (
    INPUT_SIZE,
    conf,
    prunable_params,
    randomize_masks,
    set_all_log_alpha,
    speech,
    stock_and_prunable,
)

KEEP, REMOVE = 10.0, -10.0
D, UNITS, KERNEL = 32, 64, 7  # the tiny encoder: output_size, linear units, merge kernel
FULL = LayerSizes(ffn1_units=UNITS, attn_qk=[8] * 4, attn_vo=[8] * 4, cgmlp_channels=D, ffn2_units=UNITS)


def kept_everything():
    _, prunable = stock_and_prunable()
    set_all_log_alpha(prunable, KEEP)
    return prunable


def test_parameter_counts():
    stock, prunable = stock_and_prunable()
    assert prunable.dense_params() == sum(prunable_params(layer) for layer in stock.encoders)
    expected = prunable.expected_params()
    expected.backward()
    assert all(p.grad is not None for p in prunable.layer_masks.parameters())
    assert expected.item() < prunable.dense_params()
    set_all_log_alpha(prunable, 10.0)
    assert prunable.kept_params() == prunable.dense_params()


def test_layer_sizes_and_kept_params_follow_the_inference_masks():
    prunable = kept_everything()
    assert prunable.layer_sizes() == [FULL, FULL] and prunable.kept_params() == prunable.dense_params() == 37888
    masks = prunable.layer_masks[1].masks["ffn2_units"]
    masks.set_log_alpha(torch.tensor([KEEP] * 16 + [REMOVE] * 48))  # FFN2 of layer 1 keeps 16 of its 64 units
    assert prunable.layer_sizes()[1].ffn2_units == 16 and prunable.layer_sizes()[0] == FULL
    assert prunable.kept_params() == 37888 - 48 * (D + 1 + D)  # a unit: a row of w_1 and its bias, a column of w_2
    prunable.layer_masks[0].masks["attn"].set_log_alpha(REMOVE)  # the whole attention of layer 0
    assert (prunable.layer_sizes()[0].attn_qk, prunable.layer_sizes()[0].attn_vo) == ([], [])
    attention = 4 * (D * D + D) + 2 * D  # q, k, v, out and its norm
    merge = D * (KERNEL + 1) + D * D  # the merge's depthwise conv and projection lose the attention branch's half
    assert prunable.kept_params() == 37888 - 48 * (2 * D + 1) - attention - merge
    sizes = prunable.layer_sizes()
    assert prunable.kept_params() == sum(masks.sizes_params(s) for masks, s in zip(prunable.layer_masks, sizes))


def test_the_mask_values_in_training_leave_the_kept_sizes_alone():
    _, prunable = stock_and_prunable()
    randomize_masks(prunable, seed=4)
    in_eval = prunable.layer_sizes()
    assert in_eval != [FULL, FULL]
    prunable.train()
    assert prunable.layer_sizes() == in_eval and prunable.training


def test_exported_builds_from_the_kept_sizes_and_loads_the_kept_weights_and_the_rest_as_is():
    _, prunable = stock_and_prunable()
    randomize_masks(prunable, seed=2)
    built = []

    def build(layer_sizes):
        built.append(layer_sizes)
        return EBranchformerPrunedEncoder(INPUT_SIZE, layer_sizes=layer_sizes, **conf())

    pruned = prunable._exported("encoders", build)
    assert built == [[s.as_dict() for s in prunable.layer_sizes()]]
    assert not pruned.training and not any(k.startswith("layer_masks.") for k in pruned.state_dict())
    state = prunable.state_dict()
    for name in ("embed", "after_norm"):
        assert all(torch.equal(v, state[f"{name}.{k}"]) for k, v in getattr(pruned, name).state_dict().items())
    with torch.no_grad():
        assert torch.allclose(pruned(*speech())[0], prunable(*speech())[0], atol=1e-5)
    prunable.train()
    assert prunable._exported("encoders", build).training  # the export takes the part's mode


def test_every_mask_kept_exports_into_the_stock_part_itself():
    prunable = kept_everything()
    stock = prunable._exported("encoders", lambda layer_sizes: prunable.stock())  # loads strictly
    assert type(stock) is EBranchformerEncoder and not stock.training
    with torch.no_grad():
        assert torch.allclose(stock(*speech())[0], prunable(*speech())[0], atol=1e-5)


def test_a_build_of_other_sizes_is_refused_by_the_strict_load():
    _, prunable = stock_and_prunable()
    prunable.layer_masks[0].masks["ffn1"].set_log_alpha(REMOVE)  # FFN1 gone: the stock part still has it
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: \"encoders.0.feed_forward_macaron"):
        prunable._exported("encoders", lambda layer_sizes: prunable.stock())


def test_stock_is_a_new_unmasked_part_of_the_same_architecture():
    _, prunable = stock_and_prunable()
    stock = prunable.stock()
    assert type(stock) is EBranchformerEncoder
    shapes = {k: v.shape for k, v in prunable.state_dict().items() if not k.startswith("layer_masks.")}
    assert {k: v.shape for k, v in stock.state_dict().items()} == shapes
    assert not any(p is q for p in stock.parameters() for q in prunable.parameters())
    assert (prunable.keep_hidden, prunable.hidden) == ((), {})
    with pytest.raises(NotImplementedError):
        PrunablePart().stock()
