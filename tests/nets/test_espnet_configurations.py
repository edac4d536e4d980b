"""The configurations ESPnet's own unit tests build for the E-Branchformer encoder and the Transformer
decoder, built with the drop-ins instead: every input layer and position encoding, with and without
(macaron) FFNs and layer drop, forward and backward; the decoder's input layers, output layer,
float64 and both of ESPnet's beam searches. The one layout the decoder refuses
(``normalize_before: false``) is refused by name."""

from __future__ import annotations

import itertools

import pytest
import torch

from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.encoder.e_branchformer_dynprune import EBranchformerDynPruneEncoder
from espnet_dynprune.nets.espnet_compat import BatchBeamSearch, BeamSearch

INPUT_LAYERS = ["linear", "conv2d", "conv2d2", "conv2d6", "conv2d8", "embed"]
POSITIONS = [("legacy", "abs_pos", "selfattn"), ("latest", "rel_pos", "rel_selfattn"),
             ("legacy", "rel_pos", "rel_selfattn"), ("legacy", "legacy_rel_pos", "legacy_rel_selfattn"),
             ("legacy", "abs_pos", "fast_selfattn")]
# (use_ffn, macaron_ffn, layer_drop_rate) in turn, so that every pair of input layer and position
# encoding meets a different one
FFN_LAYOUTS = [(True, True, 0.0), (True, False, 0.1), (False, False, 0.0), (True, True, 0.1)]
ENCODER_CASES = [(layer, *position, *FFN_LAYOUTS[i % len(FFN_LAYOUTS)])
                 for i, (layer, position) in enumerate(itertools.product(INPUT_LAYERS, POSITIONS))]
TOKENS = ["<blank>", "a", "b", "c", "unk", "<eos>"]


@pytest.mark.parametrize("input_layer, rel_pos_type, pos_enc_layer_type, attention_layer_type, use_ffn, "
                         "macaron_ffn, layer_drop_rate", ENCODER_CASES)
def test_every_encoder_configuration_of_espnets_tests_runs_forward_and_backward(
    input_layer, rel_pos_type, pos_enc_layer_type, attention_layer_type, use_ffn, macaron_ffn, layer_drop_rate
):
    encoder = EBranchformerDynPruneEncoder(
        20, output_size=2, attention_heads=2, attention_layer_type=attention_layer_type,
        pos_enc_layer_type=pos_enc_layer_type, rel_pos_type=rel_pos_type, cgmlp_linear_units=4, cgmlp_conv_kernel=3,
        gate_activation="identity", num_blocks=2, input_layer=input_layer, use_ffn=use_ffn, macaron_ffn=macaron_ffn,
        linear_units=16, merge_conv_kernel=3, layer_drop_rate=layer_drop_rate, gate_predictor="speech",
    )
    x = torch.randint(0, 10, [2, 32]) if input_layer == "embed" else torch.randn(2, 32, 20, requires_grad=True)
    y, lengths, _ = encoder(x, torch.LongTensor([32, 28]))
    y.sum().backward()
    assert y.size(0) == 2 and int(lengths.max()) == y.size(1)


@pytest.mark.parametrize("input_layer", ["linear", "embed"])
@pytest.mark.parametrize("use_output_layer", [True, False])
def test_every_decoder_configuration_of_espnets_tests_runs_forward_and_backward(input_layer, use_output_layer):
    decoder = TransformerDynPruneDecoder(10, 12, input_layer=input_layer, use_output_layer=use_output_layer,
                                         linear_units=10, gate_predictor="speech")
    targets = torch.randint(0, 10, [2, 4]) if input_layer == "embed" else torch.randn(2, 4, 10)
    out, _ = decoder(torch.randn(2, 9, 12), torch.tensor([9, 7]), targets, torch.tensor([4, 3]))
    out.sum().backward()
    assert out.shape[:2] == (2, 4)


def test_the_post_norm_layout_is_refused_by_name():
    with pytest.raises(ValueError, match="normalize_before: False is not supported by transformer_dynprune"):
        TransformerDynPruneDecoder(10, 12, normalize_before=False)


@pytest.mark.parametrize("search", [BeamSearch, BatchBeamSearch])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("maxlenratio", [1.0, 0.0, -1.0])
def test_espnets_beam_searches_run_the_decoder_in_either_precision(search, dtype, maxlenratio):
    decoder = TransformerDynPruneDecoder(len(TOKENS), 4, linear_units=10, gate_predictor="speech")
    beam = search(beam_size=3, vocab_size=len(TOKENS), weights={"test": 1.0}, scorers={"test": decoder},
                  token_list=TOKENS, sos=len(TOKENS) - 1, eos=len(TOKENS) - 1, pre_beam_score_key=None)
    beam.to(dtype=dtype)
    with torch.no_grad():
        hyps = beam(x=torch.randn(10, 4).type(dtype), maxlenratio=maxlenratio, minlenratio=0.0)
    assert hyps and hyps[0].yseq[0] == len(TOKENS) - 1
