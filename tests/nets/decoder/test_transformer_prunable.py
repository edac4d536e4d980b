"""transformer_prunable: ESPnet's decoder under masks, its parameter counts, and its export."""

import pytest
import torch
import yaml
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.decoder.transformer_prunable import TransformerPrunableDecoder, export_decoder
from espnet_dynprune.nets.decoder.transformer_pruned import TransformerPrunedDecoder
from tests.builders.tiny_static import DECODER_CONF, DECODER_SIZE, VOCAB, decoder_inputs, randomize_decoder_masks

OFF, ON = -10.0, 10.0


def stock_and_prunable(**mask_kwargs):
    torch.manual_seed(0)
    stock = TransformerDecoder(VOCAB, DECODER_SIZE, **DECODER_CONF).eval()
    with torch.no_grad():
        for p in stock.parameters():
            p.add_(0.1 * torch.randn_like(p))  # norms and biases away from their 1/0 init
    prunable = TransformerPrunableDecoder(VOCAB, DECODER_SIZE, **mask_kwargs, **DECODER_CONF).eval()
    missing, unexpected = prunable.load_state_dict(stock.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("layer_masks.") for k in missing)
    return stock, prunable


def run(decoder, **kwargs):
    with torch.no_grad():
        return decoder(*decoder_inputs(), **kwargs)


def masked_decoder(seed: int) -> TransformerPrunableDecoder:
    """Four layers: self-attention removed, source attention removed (by its v/o dims), FFN removed
    (by its units) and heads of their own sizes with a 0-q/k head; random mask values elsewhere."""
    _, decoder = stock_and_prunable()
    randomize_decoder_masks(decoder, seed)
    m = [layer.masks for layer in decoder.layer_masks]
    m[0]["self_attn"].set_log_alpha(OFF)
    m[1]["src_attn_vo"].set_log_alpha(OFF)
    m[2]["ffn_units"].set_log_alpha(OFF)
    head_dims = [8, 0, 3, 8]
    m[3]["self_attn_qk"].set_log_alpha(torch.cat([torch.tensor([ON] * n + [OFF] * (8 - n)) for n in head_dims]))
    m[3]["self_attn_vo"].set_log_alpha(torch.tensor([ON] * 29 + [OFF] * 3))
    return decoder


def test_all_kept_masks_compute_the_stock_decoder():
    stock, prunable = stock_and_prunable()
    for layer_masks in prunable.layer_masks:
        for mask in layer_masks.masks.values():
            mask.set_log_alpha(ON)
    (out, olens), (ref, ref_olens) = run(prunable), run(stock)
    assert torch.equal(olens, ref_olens)
    assert (out - ref).abs().max() <= 1e-5
    (_, hidden), _ = run(prunable, return_all_hs=True)
    (_, ref_hidden), _ = run(stock, return_all_hs=True)
    assert all((h - r).abs().max() <= 1e-5 for h, r in zip(hidden, ref_hidden))


def test_dense_params_count_every_layer_parameter_and_the_masks_learn():
    stock, prunable = stock_and_prunable()
    assert prunable.dense_params() == sum(p.numel() for p in stock.decoders.parameters())
    prunable.train()
    prunable(*decoder_inputs())[0].sum().backward()
    assert all(m.scaled_log_alpha.grad is not None for lm in prunable.layer_masks for m in lm.masks.values())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_export_computes_the_masked_decoder_and_is_smaller(seed):
    decoder = masked_decoder(seed)
    pruned = export_decoder(decoder).eval()
    s = pruned.layer_sizes
    assert not s[0].self_attn_vo and s[0].src_attn_vo and s[0].ffn_units
    assert pruned.decoders[0].self_attn is None and pruned.decoders[0].norm1 is None
    assert not s[1].src_attn_vo and pruned.decoders[1].src_attn is None
    assert s[2].ffn_units == 0 and pruned.decoders[2].feed_forward is None
    assert s[3].self_attn_qk == [8, 0, 3, 8] and s[3].self_attn_vo == [8, 8, 8, 5]
    (out, olens), (ref, ref_olens) = run(pruned), run(decoder)
    assert torch.equal(olens, ref_olens)
    assert (out - ref).abs().max() <= 1e-4
    assert sum(p.numel() for p in pruned.decoders.parameters()) == decoder.kept_params() < decoder.dense_params()
    # the config's sizes alone rebuild it (YAML round trip), and the weights load strictly
    sizes = yaml.safe_load(yaml.safe_dump([x.as_dict() for x in s]))
    rebuilt = TransformerPrunedDecoder(VOCAB, DECODER_SIZE, layer_sizes=sizes, **DECODER_CONF).eval()
    rebuilt.load_state_dict(pruned.state_dict())
    assert torch.equal(run(rebuilt)[0], out)


def test_both_decode_step_by_step_as_they_compute_teacher_forced():
    """ESPnet's forward_one_step (its beam search's path): the exported decoder with the layers'
    cache, the masked one recomputing the prefix; and the dynprune decoder on the exported weights
    with its once-per-utterance source keys/values."""
    masked = masked_decoder(3)
    pruned = export_decoder(masked).eval()
    memory, _, tokens, _ = decoder_inputs()
    lengths = torch.full((3,), tokens.size(1))
    with torch.no_grad():
        full = torch.log_softmax(pruned(memory, torch.full((3,), memory.size(1)), tokens, lengths)[0], dim=-1)
        for decoder in (pruned, masked):
            cache = None
            for t in range(1, tokens.size(1) + 1):
                mask = torch.tril(torch.ones(t, t, dtype=torch.bool))[None]
                step, cache = decoder.forward_one_step(tokens[:, :t], mask, memory, cache=cache)
                assert (step - full[:, t - 1]).abs().max() <= 1e-4
                assert len(cache) == 4 and cache[0].shape == (3, t, DECODER_SIZE)
        sizes = [x.as_dict() for x in pruned.layer_sizes]
        gated = TransformerDynPruneDecoder(VOCAB, DECODER_SIZE, gate_predictor="none", layer_sizes=sizes,
                                           **DECODER_CONF).eval()
        gated.load_state_dict(pruned.state_dict())
        states = [None] * 3
        for t in range(1, tokens.size(1) + 1):
            step, states = gated.batch_score(tokens[:, :t], states, memory)
            assert (step - full[:, t - 1]).abs().max() <= 1e-4


def test_errors_name_the_key():
    with pytest.raises(ValueError, match=r"decoder_conf prune_groups has unknown mask groups \['cgmlp'\]"):
        TransformerPrunableDecoder(VOCAB, DECODER_SIZE, prune_groups=["attn", "cgmlp"], **DECODER_CONF)
    with pytest.raises(ValueError, match="decoder_conf concat_after"):
        TransformerPrunableDecoder(VOCAB, DECODER_SIZE, concat_after=True, **DECODER_CONF)
    with pytest.raises(TypeError, match="only a transformer_prunable decoder"):
        export_decoder(TransformerDecoder(VOCAB, DECODER_SIZE, **DECODER_CONF))
