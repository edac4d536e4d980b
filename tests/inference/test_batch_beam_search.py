"""Multi-utterance beam search equals ESPnet's BatchBeamSearch run on each utterance alone."""

import pytest
import torch

from espnet_dynprune.inference.batch_beam_search import batch_beam_search
from espnet_dynprune.nets.espnet_compat import BatchBeamSearch
from tests.builders.tiny_nets import ASR, DEU, EOS, FRA, SOS, ST_ENG, TOKENS, decoder_pair

NOTS = TOKENS.index("<notimestamps>")
BEAM = 3
PROMPTS = torch.tensor(
    [[SOS, FRA, ASR, NOTS], [SOS, DEU, ST_ENG, NOTS], [SOS, FRA, ST_ENG, NOTS]]
)
MASKS = torch.tensor([[1, 0, 1, 0, 1, 1], [0, 1, 1, 1, 0, 0], [1, 1, 0, 1, 1, 0]])


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from threads; spinning OpenMP workers on a busy machine
    made these tests 10x slower. (tests/conftest.py restores the thread count.)"""
    torch.set_num_threads(1)


@pytest.fixture
def memory():
    torch.manual_seed(3)
    return torch.randn(3, 20, 32)


def pair(eos_bias):
    """Stock and dynprune tiny decoders; a positive ``eos_bias`` makes hypotheses end early."""
    stock, dyn = decoder_pair()
    with torch.no_grad():
        for decoder in (stock, dyn):
            decoder.output_layer.bias[EOS] += eos_bias
    return stock, dyn


def espnet_alone(decoder, enc, prompt, maxlenratio, minlenratio=0.0):
    search = BatchBeamSearch(
        scorers={"decoder": decoder}, weights={"decoder": 1.0}, beam_size=BEAM,
        vocab_size=len(TOKENS), sos=SOS, eos=EOS, token_list=TOKENS, pre_beam_score_key="full",
    )
    search.set_hyp_primer(prompt.tolist())
    with torch.no_grad():
        return search(enc, maxlenratio=maxlenratio, minlenratio=minlenratio)


def assert_same(ours, theirs):
    """Same n-best token sequences (order included) and scores within 1e-4."""
    assert [h.yseq.tolist() for h in ours] == [h.yseq.tolist() for h in theirs]
    ours_scores = torch.tensor([h.score for h in ours])
    their_scores = torch.tensor([float(h.score) for h in theirs])
    assert torch.allclose(ours_scores, their_scores, rtol=0.0, atol=1e-4)


def stopped_early(results, maxlens):
    """Per utterance: did it stop before maxlen (end detection), not with the forced <eos>?

    Also guards against vacuous passes (no results, or longer than maxlen allows).
    """
    assert all(results)
    forced = [PROMPTS.size(1) + m + 1 for m in maxlens]  # prompt + maxlen tokens + <eos>
    longest = [max(len(h.yseq) for h in r) for r in results]
    assert all(n <= f for n, f in zip(longest, forced))
    return [n < f for n, f in zip(longest, forced)]


@pytest.mark.parametrize("eos_bias", [0.0, 1.0])
@pytest.mark.parametrize("maxlenratio", [0.0, -6])
def test_different_gate_patterns_match_espnet_alone(memory, maxlenratio, eos_bias):
    _, dyn = pair(eos_bias)
    dyn.force_gates(MASKS)
    ours = batch_beam_search(dyn, memory, None, PROMPTS, BEAM, EOS, maxlenratio, nbest=None)
    if maxlenratio == 0.0:
        assert stopped_early(ours, [20] * 3) == [bool(eos_bias)] * 3
    for i in range(3):
        dyn.force_gates(MASKS[i])
        assert_same(ours[i], espnet_alone(dyn, memory[i], PROMPTS[i], maxlenratio))


@pytest.mark.parametrize("eos_bias", [0.0, 1.0])
@pytest.mark.parametrize("maxlenratio", [0.0, -6])
def test_dense_matches_espnet_with_stock_decoder(memory, maxlenratio, eos_bias):
    stock, dyn = pair(eos_bias)
    dyn.force_gates("on")
    ours = batch_beam_search(dyn, memory, None, PROMPTS, BEAM, EOS, maxlenratio, nbest=None)
    if maxlenratio == 0.0:
        assert stopped_early(ours, [20] * 3) == [bool(eos_bias)] * 3
    best = batch_beam_search(dyn, memory, None, PROMPTS, BEAM, EOS, maxlenratio)
    for i in range(3):
        theirs = espnet_alone(stock, memory[i], PROMPTS[i], maxlenratio)
        assert_same(ours[i], theirs)
        assert_same(best[i], theirs[:1])


def padded(memory, lengths):
    torch.manual_seed(4)
    mask = torch.arange(memory.size(1))[None, :] < torch.tensor(lengths)[:, None]
    garbage = 100.0 * torch.randn_like(memory)
    return torch.where(mask.unsqueeze(-1), memory, garbage), mask.unsqueeze(1)


@pytest.mark.parametrize("gates", ["forced", "predicted"])
@pytest.mark.parametrize("maxlenratio", [0.0, 0.5])
def test_padded_batch_matches_each_alone_unpadded(memory, gates, maxlenratio):
    lengths = [20, 13, 7]
    _, dyn = pair(1.0)
    if gates == "forced":
        dyn.force_gates(MASKS)
    padded_memory, mask = padded(memory, lengths)
    ours = batch_beam_search(dyn, padded_memory, mask, PROMPTS, BEAM, EOS, maxlenratio, nbest=None)
    maxlens = [n if maxlenratio == 0.0 else max(1, int(maxlenratio * n)) for n in lengths]
    # the 20-frame utterance stops by end detection, the 7-frame one at its own maxlen (the 13-frame one
    # stops either way: ESPnet 202611 counts the prompt's tokens in end detection, 202511 does not)
    early = stopped_early(ours, maxlens)
    assert early[0] == (maxlenratio == 0.0) and not early[2]
    for i, length in enumerate(lengths):
        if gates == "forced":
            dyn.force_gates(MASKS[i])
        assert_same(ours[i], espnet_alone(dyn, memory[i, :length], PROMPTS[i], maxlenratio))


@pytest.mark.parametrize("minlenratio", [0.3, -10])
def test_minlen_retry_and_give_up_as_espnet(memory, minlenratio):
    """0.3: the 20-frame utterance ends nothing before minlen 6 > maxlen 4, so ESPnet
    decodes it again with minlenratio 0.2; -10: nothing ends and ESPnet gives up."""
    lengths = [20, 13, 7]
    _, dyn = decoder_pair()
    dyn.force_gates(MASKS)
    padded_memory, mask = padded(memory, lengths)
    ours = batch_beam_search(dyn, padded_memory, mask, PROMPTS, BEAM, EOS, -4, minlenratio, None)
    assert all(ours) if minlenratio > 0 else not any(ours)
    for i, length in enumerate(lengths):
        dyn.force_gates(MASKS[i])
        theirs = espnet_alone(dyn, memory[i, :length], PROMPTS[i], -4, minlenratio)
        assert_same(ours[i], theirs)
