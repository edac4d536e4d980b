"""decoder: whisper_dynprune: stock ESPnet Whisper with gates on, cached keys/values, skipped modules not run."""

from __future__ import annotations

import pytest
import torch
from whisper.model import ModelDimensions

from espnet_dynprune.inference.precision import set_precision
from espnet_dynprune.nets.decoder.whisper_dynprune import WhisperDynPruneDecoder
from espnet_dynprune.nets.decoder.whisper_local import LocalWhisperDecoder
from espnet_dynprune.nets.espnet_compat import SEARCHES_SEVERAL_UTTERANCES, BatchBeamSearch
from tests.builders.tiny_whisper import write_checkpoint

DIMS = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                       n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=2)
SOT, EOT, EN, FR, TRANSCRIBE, TRANSLATE, NOTIMESTAMPS = 50258, 50257, 50259, 50265, 50359, 50358, 50363
PROMPT = [SOT, FR, TRANSLATE, NOTIMESTAMPS]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_checkpoint(tmp_path_factory.mktemp("whisper") / "whisper.pt", DIMS))


def _pair(checkpoint: str, **gating) -> tuple[LocalWhisperDecoder, WhisperDynPruneDecoder]:
    stock = LocalWhisperDecoder(51865, 32, whisper_model=checkpoint).eval()
    dyn = WhisperDynPruneDecoder(51865, 32, whisper_model=checkpoint, **gating).eval()
    return stock, dyn


@pytest.fixture
def memory() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, 1500, 32)


def test_state_dict_is_stock_plus_gate_predictor(checkpoint: str) -> None:
    stock, dyn = _pair(checkpoint)
    extra = set(dyn.state_dict()) - set(stock.state_dict())
    assert set(stock.state_dict()) <= set(dyn.state_dict())
    assert extra and all(k.startswith("gate_predictor.") for k in extra)
    assert dyn.gate_names[:3] == ("layer0.self_attn", "layer0.src_attn", "layer0.ffn") and len(dyn.gate_names) == 6


@pytest.mark.parametrize("gating", [{"gate_predictor": "none"}, {"gate_granularity": "layer"}])
def test_gates_on_give_stock_whisper(checkpoint: str, memory: torch.Tensor, gating: dict) -> None:
    stock, dyn = _pair(checkpoint, **gating)
    dyn.force_gates("on")
    ys = torch.tensor([PROMPT + [100, 200], [SOT, EN, TRANSCRIBE, NOTIMESTAMPS, 5, 6]])
    lens = torch.tensor([1500, 1500])
    assert torch.allclose(stock(memory, lens, ys, lens)[0], dyn(memory, lens, ys, lens)[0], atol=1e-5)
    logp, states = dyn.batch_score(ys[:, :4], [None, None], memory)
    assert torch.allclose(stock.batch_score(ys[:, :4], [None, None], memory)[0], logp, atol=1e-5)
    for length in (5, 6):  # later steps compute the newest token only, from the kept keys/values
        logp, states = dyn.batch_score(ys[:, :length], states, memory)
        assert torch.allclose(stock.batch_score(ys[:, :length], [None, None], memory)[0], logp, atol=1e-5)


def _beam_search(decoder: torch.nn.Module) -> BatchBeamSearch:
    search = BatchBeamSearch(
        scorers={"decoder": decoder}, weights={"decoder": 1.0}, beam_size=3, vocab_size=51865,
        sos=SOT, eos=EOT, token_list=None, pre_beam_score_key="full",
    )
    search.set_hyp_primer(PROMPT)
    return search


def _nbest(hyps: list) -> list:
    return [(h.yseq.tolist(), round(float(h.score), 4)) for h in hyps]


def _search(decoder: torch.nn.Module, enc: torch.Tensor) -> list:
    return _nbest(_beam_search(decoder)(enc, maxlenratio=-8, minlenratio=0.0))


def test_espnet_beam_search_gives_stock_hypotheses(checkpoint: str, memory: torch.Tensor) -> None:
    stock, dyn = _pair(checkpoint, gate_predictor="none")
    with torch.no_grad():
        assert _search(stock, memory[0]) == _search(dyn, memory[0])


@pytest.mark.skipif(not SEARCHES_SEVERAL_UTTERANCES, reason="this ESPnet searches one utterance at a time")
def test_espnet_s_multi_utterance_search_prepares_each_utterance_once(checkpoint: str, memory: torch.Tensor) -> None:
    """What ``Speech2Text.batch_decode`` runs: ESPnet hands each utterance over once per beam slot."""
    stock, dyn = _pair(checkpoint, gate_predictor="none")
    rows = []
    dyn.decoders.blocks[0].cross_attn.key.register_forward_hook(lambda m, i, o: rows.append(i[0].size(0)))
    with torch.no_grad():
        together = _beam_search(dyn)(memory, maxlenratio=-8, minlenratio=0.0, x_lengths=torch.tensor([1500, 1500]))
        assert rows == [2]  # two utterances, not 2 x 3 beam slots
        assert [_nbest(hyps) for hyps in together] == [_search(stock, m) for m in memory]


def test_a_skipped_module_does_not_run_and_the_cache_matches_the_full_prefix(checkpoint: str, memory: torch.Tensor) -> None:
    _, dyn = _pair(checkpoint)
    dyn.force_gates(torch.tensor([[1, 0, 1, 0, 1, 1], [0, 1, 1, 1, 1, 0]], dtype=torch.bool))
    calls = []
    dyn.decoders.blocks[0].cross_attn.key.register_forward_hook(lambda m, i, o: calls.append(i[0].size(0)))
    ys = torch.tensor([PROMPT + [100, 200], PROMPT + [7, 8]])
    full = torch.log_softmax(dyn(memory, torch.tensor([1500, 1500]), ys, torch.tensor([6, 6]))[0], dim=-1)
    assert calls == [1]  # layer 0's cross-attention: only the second utterance projects keys
    _, states = dyn.batch_score(ys[:, :4], [None, None], memory)
    logp, states = dyn.batch_score(ys[:, :5], states, memory)
    assert torch.allclose(logp, full[:, 4], atol=1e-5)
    logp, _ = dyn.batch_score(ys, states, memory)
    assert torch.allclose(logp, full[:, 5], atol=1e-5)
    assert calls == [1, 1]  # once more at the first step of the search, never at later steps


def test_int8_quantises_every_linear_layer_and_the_vocabulary_projection(checkpoint: str, memory: torch.Tensor) -> None:
    _, dyn = _pair(checkpoint, gate_predictor="none")
    ys = torch.tensor([PROMPT + [100, 200]] * 2)
    with torch.no_grad():
        full = dyn.batch_score(ys, [None, None], memory)[0]
        set_precision(dyn, "decoder", "int8")
        int8 = dyn.batch_score(ys, [None, None], memory)[0]
    quantised = torch.ao.nn.quantized.dynamic.Linear
    assert isinstance(dyn.output_projection, quantised) and isinstance(dyn.decoders.blocks[0].mlp[0], quantised)
    assert not any(type(m) is torch.nn.Linear for m in dyn.modules())
    assert (int8 - full).abs().max() < 0.05 * full.abs().max()  # int8 weights: close, not equal


def test_the_context_is_whisper_s_prompt(checkpoint: str) -> None:
    _, dyn = _pair(checkpoint)
    vocabulary = dyn.vocabulary
    assert vocabulary.sos_id == SOT and vocabulary.tasks == ["<|transcribe|>", "<|translate|>"]
    language, task = dyn._context_of(torch.tensor([PROMPT, [SOT, EN, TRANSCRIBE, NOTIMESTAMPS]]))
    assert [vocabulary.languages[i] for i in language] == ["<|fr|>", "<|en|>"] and task.tolist() == [1, 0]
    assert dyn._context_of(torch.tensor([[SOT]])) == (None, None)  # language identification: not known


def test_past_whisper_s_text_positions_is_a_clear_error(checkpoint: str, memory: torch.Tensor) -> None:
    _, dyn = _pair(checkpoint, gate_predictor="none")
    with pytest.raises(RuntimeError, match="449 tokens long: Whisper has 448 text positions"):
        dyn.batch_score(torch.full((1, 449), 11), [None], memory[:1])


def test_registered_for_the_asr_and_s2t_tasks() -> None:
    from espnet2.tasks.asr import ASRTask
    from espnet2.tasks.s2t import S2TTask

    for task in (ASRTask, S2TTask):
        choices = next(c for c in task.class_choices_list if c.name == "decoder")
        assert choices.get_class("whisper_dynprune") is WhisperDynPruneDecoder


def test_espnet_s_own_whisper_decoder_tests_pass_on_the_drop_in(checkpoint: str) -> None:
    """The calls of ESPnet's test_whisper_decoder.py, on a local checkpoint (its default downloads "small")."""
    decoder = WhisperDynPruneDecoder(51865, 32, whisper_model=checkpoint)  # training mode, as ESPnet's
    assert decoder.decoders.token_embedding.num_embeddings == 51865
    hs_pad, ys_in_pad = torch.randn(4, 100, 32), torch.randint(0, 3000, (4, 10))
    out, _ = decoder(hs_pad, None, ys_in_pad, None)
    assert out.shape == (4, 10, 51865)
    out.sum().backward()
    out, _ = decoder.batch_score(ys_in_pad, None, hs_pad)
    assert out.shape == (4, 51865)
    out, _ = decoder.score(ys_in_pad[0], None, hs_pad[0])
    assert out.shape == (51865,)
    small = WhisperDynPruneDecoder(1000, 32, whisper_model=checkpoint, gate_predictor="speech")
    assert small.decoders.token_embedding.num_embeddings == 1000


def test_a_vocabulary_without_whisper_s_context_tokens_is_refused_by_name(checkpoint: str) -> None:
    with pytest.raises(ValueError, match="vocabulary of 1000 tokens .* use gate_predictor: speech or none"):
        WhisperDynPruneDecoder(1000, 32, whisper_model=checkpoint)
