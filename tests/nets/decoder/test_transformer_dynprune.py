import pytest
import torch

from espnet_dynprune.nets.espnet_compat import BatchBeamSearch
from tests.builders.tiny_nets import ASR, DEU, EOS, FRA, SOS, ST_ENG, TOKENS, decoder_pair

PROMPT = [SOS, FRA, ASR]


@pytest.fixture
def memory():
    torch.manual_seed(2)
    return torch.randn(2, 30, 32), torch.tensor([30, 21])


def test_state_dict_is_stock_plus_gate_predictor():
    stock, dyn = decoder_pair()
    extra = set(dyn.state_dict()) - set(stock.state_dict())
    assert set(stock.state_dict()) <= set(dyn.state_dict())
    assert extra and all(k.startswith("gate_predictor.") for k in extra)


@pytest.mark.parametrize("granularity", ["module", "layer"])
def test_all_gates_on_equals_stock(memory, granularity):
    stock, dyn = decoder_pair(gate_granularity=granularity)
    dyn.force_gates("on")
    ys = torch.tensor([[SOS, FRA, ASR, 10, 11], [SOS, DEU, ST_ENG, 12, EOS]])
    lens = torch.tensor([5, 4])
    assert (stock(*memory, ys, lens)[0] - dyn(*memory, ys, lens)[0]).abs().max() <= 1e-5
    a, sa = stock.batch_score(ys[:, :3], [None, None], memory[0])
    b, sb = dyn.batch_score(ys[:, :3], [None, None], memory[0])
    assert (a - b).abs().max() <= 1e-5
    a, _ = stock.batch_score(ys[:, :4], sa, memory[0])
    b, _ = dyn.batch_score(ys[:, :4], sb, memory[0])
    assert (a - b).abs().max() <= 1e-5


def beam_search(decoder, enc):
    search = BatchBeamSearch(
        scorers={"decoder": decoder}, weights={"decoder": 1.0}, beam_size=3,
        vocab_size=len(TOKENS), sos=SOS, eos=EOS, token_list=TOKENS, pre_beam_score_key="full",
    )
    search.set_hyp_primer(PROMPT)
    return [h.yseq.tolist() for h in search(enc, maxlenratio=0.0, minlenratio=0.0)]


def test_beam_search_hypotheses_identical_to_stock(memory):
    stock, dyn = decoder_pair()
    dyn.force_gates("on")
    with torch.no_grad():
        assert beam_search(stock, memory[0][0]) == beam_search(dyn, memory[0][0])


def test_incremental_decoding_with_skips_matches_full_forward(memory):
    _, dyn = decoder_pair()
    dyn.force_gates(torch.tensor([1, 0, 1, 0, 1, 0]))
    ys = torch.tensor([[SOS, FRA, ASR, 10, 11, 12]])
    enc, lens = memory[0][:1], memory[1][:1]
    full = torch.log_softmax(dyn(enc, lens, ys, torch.tensor([6]))[0], dim=-1)
    state = [None]
    for t in range(3, 7):
        logp, state = dyn.batch_score(ys[:, :t], state, enc)
        assert (logp[0] - full[0, t - 1]).abs().max() <= 1e-5


def test_batch_rows_with_different_patterns_match_alone(memory):
    _, dyn = decoder_pair()
    mask = torch.tensor([[1, 0, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0]])
    dyn.force_gates(mask)
    ys = torch.tensor([[SOS, FRA, ASR, 10], [SOS, DEU, ST_ENG, 11]])
    both, _ = dyn.batch_score(ys, [None, None], memory[0])
    for i in range(2):
        dyn.force_gates(mask[i])
        alone, _ = dyn.batch_score(ys[i:i + 1], [None], memory[0][i:i + 1])
        assert (both[i] - alone[0]).abs().max() <= 1e-5


def test_skipped_source_attention_is_not_computed(memory):
    _, dyn = decoder_pair()
    calls = []
    for layer in dyn.decoders:
        for name in ("linear_q", "linear_k", "linear_v", "linear_out"):
            getattr(layer.src_attn, name).register_forward_hook(
                lambda m, a, o, name=name: calls.append((name, a[0].size(0)))
            )
    dyn.force_gates(torch.tensor([[1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 0, 1]]))
    dyn.batch_score(torch.tensor([[SOS, FRA, ASR], [SOS, DEU, ASR]]), [None, None], memory[0])
    # layer 0: utterance 1 only; layer 1: nobody
    assert calls == [("linear_k", 1), ("linear_v", 1), ("linear_q", 1), ("linear_out", 1)]


def test_context_is_read_after_sos_and_other_tokens_are_not_known(memory):
    _, dyn = decoder_pair()
    sop_prompt = torch.tensor([[17, 10, 11, SOS, FRA, ST_ENG]])  # <sop> prev... <sos><lang><task>
    dyn.batch_score(sop_prompt, [None], memory[0][:1])
    vocabulary, predictor = dyn.vocabulary, dyn.gate_predictor
    fra, asr = vocabulary.symbol_indices("<fra>", "<asr>")
    for prompt, language, task in [([SOS, 10, ASR], -1, asr), ([SOS, FRA, 11], fra, -1)]:
        dyn.batch_score(torch.tensor([prompt]), [None], memory[0][:1])
        expected = predictor(memory[0][:1], None, torch.tensor([language]), torch.tensor([task])).keep
        assert torch.equal(dyn.last_gates.keep, expected)


def test_a_prompt_that_stops_at_sos_decides_with_the_not_known_context(memory):
    """ESPnet's Speech2Language scores one step from <sos> alone."""
    _, dyn = decoder_pair()
    logp, _ = dyn.batch_score(torch.tensor([[SOS]]), [None], memory[0][:1])
    assert logp.shape == (1, len(TOKENS))
    predictor = dyn.gate_predictor
    unknown = predictor(memory[0][:1], None, torch.tensor([-1]), torch.tensor([-1])).keep
    assert torch.equal(dyn.last_gates.keep, unknown)
    with pytest.raises(ValueError, match="<lang> but no <task>"):
        dyn.batch_score(torch.tensor([[SOS, FRA]]), [None], memory[0][:1])


@pytest.mark.parametrize("forced", ["on", "off", torch.ones(6)])
def test_a_forced_pattern_reads_no_context(memory, forced):
    _, dyn = decoder_pair()
    dyn.force_gates(forced)
    dyn.batch_score(torch.tensor([[SOS, 10, 11]]), [None], memory[0][:1])  # no <lang><task>: fine
    dyn.force_gates(0.5)  # a ranked sparsity asks the predictor, which decides with "not known"
    dyn.batch_score(torch.tensor([[SOS, 10, 11]]), [None], memory[0][:1])
    assert int(dyn.last_gates.keep.sum()) == 3  # half of the 6 gates, by rank


def test_gradient_checkpointing_and_layer_drop_rate_are_accepted_as_in_espnet(memory):
    ys, lens = torch.tensor([[SOS, FRA, ASR, 10, 11], [SOS, DEU, ST_ENG, 12, EOS]]), torch.tensor([5, 4])
    grads = []
    for conf in ({}, {"gradient_checkpoint_layers": [1, 2], "layer_drop_rate": 0.5}):
        _, dyn = decoder_pair(**conf)
        dyn.train()
        torch.manual_seed(4)
        dyn(*memory, ys, lens)[0].square().sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in dyn.parameters() if p.grad is not None]))
    assert grads[0].shape == grads[1].shape and torch.allclose(grads[0], grads[1], atol=1e-5)


@pytest.mark.parametrize("key,value", [("normalize_before", False), ("concat_after", True)])
def test_post_norm_layouts_are_refused_naming_key_and_value(key, value):
    from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder

    with pytest.raises(ValueError, match=f"decoder_conf {key}: {value!r} is not supported"):
        TransformerDynPruneDecoder(len(TOKENS), 32, **{key: value})
