"""The decoders running their own layer loop return what ESPnet's Transformer decoders return:
final norm then output layer, log-probabilities per step, hidden states on request."""

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.nets.decoder.outputs import step_outputs, teacher_forced_outputs


def decoder() -> TransformerDecoder:
    torch.manual_seed(0)
    return TransformerDecoder(10, 16, attention_heads=2, linear_units=16, num_blocks=1).eval()


def test_teacher_forced_outputs_follow_espnets_contract():
    dec, last, olens = decoder(), torch.randn(2, 4, 16), torch.tensor([4, 3])
    logits, lens = teacher_forced_outputs(dec, last, [last], olens, False, False)
    assert torch.allclose(logits, dec.output_layer(dec.after_norm(last))) and lens is olens
    (logits_hs, hidden), _ = teacher_forced_outputs(dec, last, [last], olens, True, False)
    assert torch.equal(logits_hs, logits) and torch.allclose(hidden, dec.after_norm(last))
    (_, every), _ = teacher_forced_outputs(dec, last, [last, last], olens, False, True)
    assert len(every) == 2


def test_a_step_gives_log_probabilities_and_keeps_the_cache():
    dec, newest, cache = decoder(), torch.randn(3, 16), [torch.randn(3, 2, 16)]
    scores, kept = step_outputs(dec, newest, cache, False)
    assert kept is cache
    assert torch.allclose(scores.exp().sum(-1), torch.ones(3), atol=1e-5)
    (_, hidden), _ = step_outputs(dec, newest, cache, True)
    assert torch.allclose(hidden, dec.after_norm(newest))
