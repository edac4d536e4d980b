"""EBranchformerPrunedEncoder: stock at full sizes, checked encoder_conf, and strict loading of its weights."""

import re

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder, check_prunable_conf
from tests.builders.tiny_nets import ENCODER_CONF

FULL = dict(ffn1_units=64, attn_qk=[8] * 4, attn_vo=[8] * 4, cgmlp_channels=32, ffn2_units=64)
SMALL = [dict(ffn1_units=5, attn_qk=[8, 0], attn_vo=[2, 8], cgmlp_channels=3, ffn2_units=0),
         dict(ffn1_units=0, attn_qk=[4], attn_vo=[6], cgmlp_channels=7, ffn2_units=9)]


def pruned(layer_sizes=SMALL, **extra):
    torch.manual_seed(0)
    return EBranchformerPrunedEncoder(20, layer_sizes=layer_sizes, **{**ENCODER_CONF, **extra}).eval()


def test_full_sizes_have_the_stock_keys_and_shapes_and_compute_the_stock_output(speech):
    torch.manual_seed(0)
    stock = EBranchformerEncoder(20, **ENCODER_CONF).eval()
    full = pruned([FULL, FULL])
    assert {k: v.shape for k, v in full.state_dict().items()} == {k: v.shape for k, v in stock.state_dict().items()}
    full.load_state_dict(stock.state_dict(), strict=True)
    with torch.no_grad():
        out, olens, _ = full(*speech)
        ref, ref_olens, _ = stock(*speech)
    assert torch.equal(olens, ref_olens)
    assert (out - ref).abs().max() <= 1e-5


def test_smaller_sizes_run_and_keep_the_layer_sizes(speech):
    enc = pruned()
    assert [s.as_dict() for s in enc.layer_sizes] == SMALL
    assert enc.encoders[0].attn.qk_dims == [8, 0] and enc.encoders[1].feed_forward_macaron is None
    assert enc.encoders[1].ff_scale == 0.5  # the unpruned macaron layer's scale, FFN1 gone or not
    with torch.no_grad():
        out, olens, _ = enc(*speech)
    assert out.shape == (3, 9, 32) and torch.isfinite(out).all()


@pytest.mark.parametrize("layer_sizes", [[FULL], [FULL, FULL, FULL], []])
def test_layer_sizes_must_match_num_blocks(layer_sizes):
    with pytest.raises(ValueError, match=f"layer_sizes has {len(layer_sizes)} entries but num_blocks is 2"):
        pruned(layer_sizes)


def test_a_bad_entry_names_its_index():
    with pytest.raises(ValueError, match=re.escape("encoder_conf layer_sizes[1].ffn2_units")):
        pruned([FULL, {**FULL, "ffn2_units": -3}])


@pytest.mark.parametrize(
    "extra, key",
    [
        ({"attention_layer_type": "rel_selfattn", "pos_enc_layer_type": "rel_pos"}, "attention_layer_type"),
        ({"pos_enc_layer_type": "rel_pos"}, "pos_enc_layer_type"),
        ({"qk_norm": True}, "qk_norm"),
        ({"use_linear_after_conv": True}, "use_linear_after_conv"),
        ({"positionwise_layer_type": "conv1d"}, "positionwise_layer_type"),
    ],
)
def test_unsupported_encoder_conf_raises_naming_the_key(extra, key):
    with pytest.raises(ValueError, match=f"e_branchformer_pruned supports encoder_conf {key}"):
        pruned([FULL, FULL], **extra)
    with pytest.raises(ValueError, match=f"encoder: x supports encoder_conf {key}"):
        check_prunable_conf({**ENCODER_CONF, **extra}, "x")


def test_espnet_default_attention_type_is_refused_too():
    """ESPnet's defaults are rel_selfattn / rel_pos, which the pruned layers do not implement: a config
    that leaves the keys out gets them and must be refused when built, like one that spells them out."""
    conf = {k: v for k, v in ENCODER_CONF.items() if k not in ("attention_layer_type", "pos_enc_layer_type")}
    with pytest.raises(ValueError, match="attention_layer_type"):
        EBranchformerPrunedEncoder(20, layer_sizes=[FULL, FULL], **conf)


def weights():
    return {k: v.clone() for k, v in pruned().state_dict().items()}


def cut_rows(state):
    state["encoders.1.attn.linear_q.weight"] = state["encoders.1.attn.linear_q.weight"][:-1]
    return "encoders.1.attn.linear_q.weight: weights (3, 32), the config's sizes (4, 32)", 1


def drop_key(state):
    del state["encoders.0.cgmlp.channel_proj2.bias"]
    return "encoders.0.cgmlp.channel_proj2.bias: missing from the weights", 0


def extra_key(state):
    state["encoders.1.merge_bias"] = torch.zeros(32)  # layer 1 kept both branches: it has no merge_bias
    return "encoders.1.merge_bias: in the weights but not in the model", 1


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("change", [cut_rows, drop_key, extra_key])
def test_loading_mismatched_weights_raises_naming_the_key_and_entry(change, strict):
    state = weights()
    line, index = change(state)
    with pytest.raises(ValueError) as error:
        pruned().load_state_dict(state, strict=strict)
    assert f"{line} (encoder_conf layer_sizes[{index}])" in str(error.value)


@pytest.mark.parametrize("strict", [True, False])
def test_a_missing_non_layer_key_is_named_without_an_entry(strict):
    state = weights()
    del state["after_norm.weight"]
    with pytest.raises(ValueError) as error:
        pruned().load_state_dict(state, strict=strict)
    (line,) = [line for line in str(error.value).splitlines() if "after_norm" in line]
    assert line.strip() == "after_norm.weight: missing from the weights"


def test_the_check_also_runs_inside_a_model_with_its_prefix():
    model = torch.nn.Module()
    model.encoder = pruned()
    state = {f"encoder.{k}": v for k, v in weights().items()}
    model.load_state_dict(state, strict=False)  # matching weights load
    state["encoder.encoders.1.attn.linear_q.weight"] = state["encoder.encoders.1.attn.linear_q.weight"][:-1]
    with pytest.raises(ValueError, match=re.escape("encoder.encoders.1.attn.linear_q.weight: weights (3, 32)")):
        model.load_state_dict(state, strict=False)


def test_matching_weights_load_and_give_the_same_output(speech):
    source = pruned()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.1)
    target = pruned()
    result = target.load_state_dict(source.state_dict(), strict=False)
    assert not result.missing_keys and not result.unexpected_keys
    with torch.no_grad():
        assert torch.equal(target(*speech)[0], source(*speech)[0])
