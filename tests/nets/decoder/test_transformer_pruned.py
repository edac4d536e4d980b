"""TransformerPrunedDecoder: stock at full sizes, removed modules, checked decoder_conf, strict loading,
and ESPnet's beam search over it as over the stock decoder; transformer_dynprune on its layers."""

import re

import pytest
import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.nets.context_vocabulary import ContextVocabulary
from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.decoder.transformer_pruned import TransformerPrunedDecoder
from espnet_dynprune.nets.espnet_compat import BatchBeamSearch
from tests.builders.tiny_nets import ASR, DECODER_CONF, EOS, FRA, SOS, TOKENS

FULL = dict(self_attn_qk=[8] * 4, self_attn_vo=[8] * 4, src_attn_qk=[8] * 4, src_attn_vo=[8] * 4, ffn_units=64)
SMALL = [dict(self_attn_qk=[], self_attn_vo=[], src_attn_qk=[8, 0], src_attn_vo=[2, 8], ffn_units=5),
         dict(self_attn_qk=[4], self_attn_vo=[6], src_attn_qk=[], src_attn_vo=[], ffn_units=0)]
V = len(TOKENS)


def pruned(layer_sizes=SMALL, **extra):
    torch.manual_seed(0)
    decoder = TransformerPrunedDecoder(V, 32, layer_sizes=layer_sizes, **{**DECODER_CONF, **extra}).eval()
    with torch.no_grad():
        for p in decoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return decoder


@pytest.fixture
def memory():
    torch.manual_seed(2)
    return torch.randn(2, 30, 32), torch.tensor([30, 21])


YS, YLENS = torch.tensor([[SOS, FRA, ASR, 10, 11], [SOS, FRA, ASR, 12, EOS]]), torch.tensor([5, 4])


def test_full_sizes_have_the_stock_keys_and_compute_the_stock_output(memory):
    torch.manual_seed(0)
    stock = TransformerDecoder(V, 32, **DECODER_CONF).eval()
    full = pruned([FULL, FULL])
    assert {k: v.shape for k, v in full.state_dict().items()} == {k: v.shape for k, v in stock.state_dict().items()}
    full.load_state_dict(stock.state_dict(), strict=True)
    with torch.no_grad():
        assert (full(*memory, YS, YLENS)[0] - stock(*memory, YS, YLENS)[0]).abs().max() <= 1e-5


def test_removed_modules_hold_no_parameters_and_are_the_identity(memory):
    decoder = pruned()
    first, second = decoder.decoders
    assert first.self_attn is None and first.norm1 is None and first.src_attn.qk_dims == [8, 0]
    assert second.src_attn is None and second.norm2 is None and second.feed_forward is None and second.norm3 is None
    x = torch.randn(2, 5, 32)
    with torch.no_grad():  # the second layer is self-attention and nothing else
        h = second.norm1(x)
        mask = torch.tril(torch.ones(5, 5, dtype=torch.bool))[None]
        expected = x + second.self_attn(h, h, h, mask)
        assert torch.allclose(second(x, mask, memory[0], None)[0], expected)


def beam_search(decoder, enc):
    search = BatchBeamSearch(
        scorers={"decoder": decoder}, weights={"decoder": 1.0}, beam_size=3,
        vocab_size=V, sos=SOS, eos=EOS, token_list=TOKENS, pre_beam_score_key="full",
    )
    search.set_hyp_primer([SOS, FRA, ASR])
    return [h.yseq.tolist() for h in search(enc, maxlenratio=0.0, minlenratio=0.0)]


@pytest.mark.parametrize("granularity", ["module", "layer"])
def test_dynprune_on_the_pruned_layers_gates_only_what_is_left(memory, granularity):
    decoder = pruned()
    sizes = [s.as_dict() for s in decoder.layer_sizes]
    gated = TransformerDynPruneDecoder(V, 32, layer_sizes=sizes, gate_granularity=granularity, **DECODER_CONF).eval()
    missing, unexpected = gated.load_state_dict(decoder.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("gate_predictor.") for k in missing)
    gated.bind_context(ContextVocabulary(TOKENS))
    if granularity == "module":
        assert gated.gate_names == ("layer0.src_attn", "layer0.ffn", "layer1.self_attn")
    gated.force_gates("on")
    with torch.no_grad():
        assert (gated(*memory, YS, YLENS)[0] - decoder(*memory, YS, YLENS)[0]).abs().max() <= 1e-5
        assert beam_search(gated, memory[0][0]) == beam_search(decoder, memory[0][0])
    skipped, costs = gated.unit_costs(gated.last_gates, 30)
    assert skipped.shape == (1, 3) and (skipped == 0).all() and costs.shape == (3,) and (costs > 0).all()
    gated.force_gates("off")  # every module left skipped: embedding, final norm and output only
    with torch.no_grad():
        out = gated(*memory, YS, YLENS)[0]
        assert torch.allclose(out, decoder.output_layer(decoder.after_norm(decoder.embed(YS))), atol=1e-5)


def test_unsupported_decoder_conf_raises_naming_the_key():
    with pytest.raises(ValueError, match="decoder: transformer_pruned supports decoder_conf normalize_before"):
        pruned(normalize_before=False)
    with pytest.raises(ValueError, match="transformer_dynprune with layer_sizes supports decoder_conf qk_norm"):
        TransformerDynPruneDecoder(V, 32, layer_sizes=SMALL, qk_norm=True, **DECODER_CONF)
    with pytest.raises(ValueError, match="decoder_conf layer_sizes has 1 entries but num_blocks is 2"):
        pruned([FULL])
    with pytest.raises(ValueError, match=re.escape("decoder_conf layer_sizes[1].ffn_units")):
        pruned([FULL, {**FULL, "ffn_units": -1}])


@pytest.mark.parametrize("strict", [True, False])
def test_loading_mismatched_weights_raises_naming_the_key_and_entry(strict):
    state = pruned().state_dict()
    state["decoders.1.self_attn.linear_v.weight"] = state["decoders.1.self_attn.linear_v.weight"][:-1]
    state["decoders.0.norm1.weight"] = torch.ones(32)
    with pytest.raises(ValueError) as error:
        pruned().load_state_dict(state, strict=strict)
    message = str(error.value)
    assert "decoders.1.self_attn.linear_v.weight: weights (5, 32), the config's sizes (6, 32) " \
           "(decoder_conf layer_sizes[1])" in message
    assert "decoders.0.norm1.weight: in the weights but not in the model (decoder_conf layer_sizes[0])" in message
