"""preset_masks: a tiny masked encoder set at a target sparsity, realistic and reproducible."""

import pytest
import torch

from espnet_dynprune.analysis.preset_masks import preset_masks
from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder
from tests.builders.tiny_nets import ENCODER_CONF


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return EBranchformerPrunableEncoder(20, **ENCODER_CONF).eval()


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.7, 0.9])
def test_realised_sparsity_is_within_tolerance_of_the_request(encoder, sparsity):
    realised = preset_masks(encoder, sparsity, seed=1)
    assert realised == pytest.approx(1 - encoder.kept_params() / encoder.dense_params())
    assert abs(realised - sparsity) <= 0.01


def test_heads_keep_different_odd_widths_and_layers_differ(encoder):
    preset_masks(encoder, 0.5, seed=0)
    sizes = encoder.layer_sizes()
    widths = [n for s in sizes for n in (*s.attn_qk, *s.attn_vo)]
    assert len(set(widths)) > 2 and any(n % 2 for n in widths)
    assert any(s.attn_qk != s.attn_vo for s in sizes)
    assert len({(s.ffn1_units, s.ffn2_units, s.cgmlp_channels) for s in sizes}) == len(sizes)


def test_high_sparsity_removes_whole_modules(encoder):
    preset_masks(encoder, 0.9, seed=0)
    sizes = encoder.layer_sizes()
    assert any(0 in (s.ffn1_units, s.ffn2_units, s.cgmlp_channels) or not s.has_attention for s in sizes)


def test_same_seed_same_masks_and_the_global_rng_is_untouched(encoder):
    preset_masks(encoder, 0.6, seed=3)
    first = encoder.layer_sizes()
    state = torch.random.get_rng_state()
    preset_masks(encoder, 0.6, seed=4)
    assert encoder.layer_sizes() != first
    preset_masks(encoder, 0.6, seed=3)
    assert encoder.layer_sizes() == first
    assert torch.equal(torch.random.get_rng_state(), state)


def test_masks_only_groups_that_exist():
    encoder = EBranchformerPrunableEncoder(20, prune_groups=("ffn_units", "attn"), **ENCODER_CONF).eval()
    realised = preset_masks(encoder, 0.3, seed=0)
    assert abs(realised - 0.3) <= 0.01
    assert all(s.cgmlp_channels == 32 for s in encoder.layer_sizes())


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "0.5"])
def test_rejects_sparsity_outside_zero_one(encoder, bad):
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\), got " + repr(bad).replace("(", r"\(")):
        preset_masks(encoder, bad)


@pytest.mark.parametrize("sparsity", [0.3, 0.7])
def test_a_decoder_is_set_the_same_way_and_exports_at_that_size(sparsity):
    from espnet_dynprune.nets.decoder.transformer_prunable import TransformerPrunableDecoder, export_decoder
    from tests.builders.tiny_static import DECODER_CONF, DECODER_SIZE, VOCAB

    torch.manual_seed(0)
    decoder = TransformerPrunableDecoder(VOCAB, DECODER_SIZE, **DECODER_CONF).eval()
    realised = preset_masks(decoder, sparsity, seed=2)
    assert abs(realised - sparsity) <= 0.01
    sizes = export_decoder(decoder).layer_sizes
    widths = {n for s in sizes for n in (*s.self_attn_qk, *s.src_attn_vo)}
    assert len(widths) > 2 and len({s.ffn_units for s in sizes}) > 1
