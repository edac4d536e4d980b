"""EBranchformerPrunableEncoder: stock when all masks keep, hidden layers, checkpointing, conf, straight-through."""

import copy

import pytest
import torch

from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder
from tests.builders.tiny_static import INPUT_SIZE, conf, randomize_masks, set_all_log_alpha, speech, stock_and_prunable


def test_stock_weights_load_leaving_only_the_masks_missing():
    stock, prunable = stock_and_prunable()
    result = prunable.load_state_dict(stock.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert set(result.missing_keys) == {k for k in prunable.state_dict() if k.startswith("layer_masks.")}
    assert result.missing_keys  # there are masks


@pytest.mark.parametrize("extra", [{}, {"macaron_ffn": False}])
def test_every_mask_kept_gives_the_stock_output(extra):
    stock, prunable = stock_and_prunable(extra)
    set_all_log_alpha(prunable, 10.0)
    xs, ilens = speech()
    with torch.no_grad():
        out, olens, _ = prunable(xs, ilens)
        ref, ref_olens, _ = stock(xs, ilens)
    assert torch.equal(olens, ref_olens)
    assert (out - ref).abs().max() <= 1e-5


def test_keep_hidden_holds_the_stock_intermediate_layer_outputs():
    stock, prunable = stock_and_prunable()
    set_all_log_alpha(prunable, 10.0)
    xs, ilens = speech()
    with torch.no_grad():
        (_, stock_hidden), _, _ = stock(xs, ilens, return_all_hs=True)
        prunable.keep_hidden = (1, 2)
        prunable(xs, ilens)
        assert set(prunable.hidden) == {1, 2}
        for i in (1, 2):
            assert torch.allclose(prunable.hidden[i], stock_hidden[i - 1], atol=1e-5)
        (_, all_hs), _, _ = prunable(xs, ilens, return_all_hs=True)
        assert len(all_hs) == 2 and torch.allclose(all_hs[1], stock_hidden[1], atol=1e-5)
        prunable.keep_hidden = (2,)
        prunable(xs, ilens)
        assert set(prunable.hidden) == {2}


def mask_gradients(checkpoint_layers):
    torch.manual_seed(0)
    encoder = EBranchformerPrunableEncoder(
        INPUT_SIZE, **conf(dropout_rate=0.1, gradient_checkpoint_layers=checkpoint_layers))
    randomize_masks(encoder, seed=3, spread=1.0)
    encoder.train()
    xs, ilens = speech()
    torch.manual_seed(7)  # the same mask samples and dropout in both runs
    out, _, _ = encoder(xs, ilens)
    (out.pow(2).mean() + 1e-6 * encoder.expected_params()).backward()
    return {k: p.grad.clone() for k, p in encoder.named_parameters()}


def test_gradient_checkpointing_gives_the_same_gradients():
    plain, checkpointed = mask_gradients([]), mask_gradients([1, 2])
    assert plain.keys() == checkpointed.keys()
    masks = [k for k in plain if k.startswith("layer_masks.")]
    assert masks and any(plain[k].abs().sum() > 0 for k in masks)
    for key in plain:
        assert torch.allclose(plain[key], checkpointed[key], atol=1e-6, rtol=1e-4), key


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"layer_drop_rate": 0.1}, "does not support encoder_conf layer_drop_rate"),
        ({"interctc_layer_idx": [1]}, "does not support encoder_conf interctc_layer_idx"),
        ({"attention_layer_type": "rel_selfattn", "pos_enc_layer_type": "rel_pos"},
         "e_branchformer_prunable supports encoder_conf attention_layer_type"),
        ({"qk_norm": True}, "e_branchformer_prunable supports encoder_conf qk_norm"),
    ],
)
def test_unsupported_encoder_conf_raises_naming_the_key(extra, message):
    with pytest.raises(ValueError, match=message):
        EBranchformerPrunableEncoder(INPUT_SIZE, **conf(**extra))


def test_harmless_values_of_those_keys_are_accepted():
    EBranchformerPrunableEncoder(INPUT_SIZE, **conf(layer_drop_rate=0.0, interctc_layer_idx=[]))


def test_espnet_default_attention_type_is_refused_too():
    """Leaving attention_layer_type / pos_enc_layer_type out gets ESPnet's rel_selfattn / rel_pos,
    which masked_layer_forward cannot run: building must refuse it, naming the key."""
    without = {k: v for k, v in conf().items() if k not in ("attention_layer_type", "pos_enc_layer_type")}
    with pytest.raises(ValueError, match="attention_layer_type"):
        EBranchformerPrunableEncoder(INPUT_SIZE, **without)


def test_unknown_prune_groups_raise_naming_them():
    with pytest.raises(ValueError, match="'heads'"):
        EBranchformerPrunableEncoder(INPUT_SIZE, prune_groups=["attn", "heads"], **conf())


def train_towards_no_attention(straight_through, steps=3):
    """Only whole-attention masks, saturated at 1; the target is the model without attention."""
    _, student = stock_and_prunable(prune_groups=["attn"], mask_straight_through=straight_through)
    teacher = copy.deepcopy(student)
    set_all_log_alpha(teacher, -10.0)
    set_all_log_alpha(student, 8.0)
    xs, ilens = speech()
    with torch.no_grad():
        target = teacher(xs, ilens)[0]
    student.train()
    optimiser = torch.optim.Adam(student.layer_masks.parameters(), lr=0.01)
    torch.manual_seed(0)
    grads = []
    for _ in range(steps):
        optimiser.zero_grad()
        (student(xs, ilens)[0] - target).pow(2).mean().backward()
        grads.append([float(m.masks["attn"].scaled_log_alpha.grad) for m in student.layer_masks])
        optimiser.step()
    return grads, [float(m.masks["attn"].log_alpha.detach()) for m in student.layer_masks]


def test_whole_module_masks_learn_only_straight_through():
    grads, log_alphas = train_towards_no_attention(straight_through=True)
    assert all(g > 0 for step in grads for g in step)  # descent lowers log_alpha: towards removal
    assert all(a < 8.0 - 1.0 for a in log_alphas)
    grads, log_alphas = train_towards_no_attention(straight_through=False)
    assert all(g == 0.0 for step in grads for g in step)  # the clamp's flat region passes nothing
    assert log_alphas == pytest.approx([8.0, 8.0])
