"""encoder: whisper_dynprune: stock ESPnet Whisper with gates on, skipped modules not run, ESPnet's own tests."""

from __future__ import annotations

import pytest
import torch

from espnet_dynprune.inference.precision import set_precision
from espnet_dynprune.nets.encoder.whisper_dynprune import WhisperDynPruneEncoder
from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
from tests.builders.tiny_whisper import TINY, write_checkpoint

FR, EN, TRANSCRIBE, TRANSLATE = 5, 0, 0, 1  # openai-whisper's language order: en, zh, de, es, ru, fr, ...


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_checkpoint(tmp_path_factory.mktemp("whisper") / "whisper.pt", TINY))


@pytest.fixture
def speech() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(3, 3200), torch.tensor([3200, 1600, 500])


def _pair(checkpoint: str, **gating) -> tuple[LocalWhisperEncoder, WhisperDynPruneEncoder]:
    stock = LocalWhisperEncoder(whisper_model=checkpoint).eval()
    dyn = WhisperDynPruneEncoder(whisper_model=checkpoint, **gating).eval()
    return stock, dyn


def test_state_dict_is_stock_plus_gate_predictor(checkpoint: str) -> None:
    stock, dyn = _pair(checkpoint)
    extra = set(dyn.state_dict()) - set(stock.state_dict())
    assert set(stock.state_dict()) <= set(dyn.state_dict())
    assert extra and all(k.startswith("gate_predictor.") for k in extra)
    assert dyn.gate_names == ("layer0.self_attn", "layer0.ffn", "layer1.self_attn", "layer1.ffn")


@pytest.mark.parametrize("gating", [{"gate_predictor": "none"}, {"gate_granularity": "layer"}])
def test_gates_on_give_stock_whisper(checkpoint: str, speech: tuple, gating: dict) -> None:
    stock, dyn = _pair(checkpoint, **gating)
    dyn.force_gates("on")
    with torch.no_grad():
        expected, expected_lens, _ = stock(*speech)
        out, lens, _ = dyn(*speech)
    assert torch.allclose(out, expected, atol=1e-5) and torch.equal(lens, expected_lens)
    assert isinstance(dyn.encoders.blocks, torch.nn.ModuleList)  # the stand-in is gone after the call


def test_a_skipped_module_does_not_run_and_each_row_is_as_alone(checkpoint: str, speech: tuple) -> None:
    _, dyn = _pair(checkpoint)
    keep = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 1]], dtype=torch.bool)
    rows = []
    dyn.encoders.blocks[0].attn.query.register_forward_hook(lambda m, i, o: rows.append(i[0].size(0)))
    dyn.force_gates(keep)
    with torch.no_grad():
        together = dyn(*speech)[0]
        assert rows == [2]  # layer 0's self-attention: the first and the third utterance only
        for b in range(3):
            dyn.force_gates(keep[b])
            alone = dyn(speech[0][b : b + 1], speech[1][b : b + 1])[0]
            assert torch.allclose(together[b : b + 1], alone, atol=1e-5)


def test_the_gates_average_the_real_frames_only(checkpoint: str, speech: tuple) -> None:
    _, dyn = _pair(checkpoint, gate_predictor="speech")
    seen = []
    dyn.gate_predictor.register_forward_hook(lambda m, inputs, out: seen.append(inputs[1]))
    with torch.no_grad():
        dyn(*speech)
    assert seen[0].sum(1).tolist() == [10, 5, 2]  # ESPnet's output lengths of 3200, 1600, 500 samples


def test_the_context_reaches_the_gates(checkpoint: str, speech: tuple) -> None:
    _, dyn = _pair(checkpoint, gate_predictor="context", gate_context_size=8)
    with torch.no_grad():
        dyn(*speech)
        unknown = dyn.gate_predictor.last_margins
        with dyn.context(torch.tensor([FR, EN, FR]), torch.tensor([TRANSLATE, TRANSCRIBE, TRANSCRIBE])):
            dyn(*speech)
        assert not torch.allclose(unknown, dyn.gate_predictor.last_margins)


def test_int8_quantises_every_linear_layer(checkpoint: str, speech: tuple) -> None:
    _, dyn = _pair(checkpoint, gate_predictor="none")
    with torch.no_grad():
        full = dyn(*speech)[0]
        set_precision(dyn, "encoder", "int8")
        int8 = dyn(*speech)[0]
    assert isinstance(dyn.encoders.blocks[1].attn.query, torch.ao.nn.quantized.dynamic.Linear)
    assert not any(type(m) is torch.nn.Linear for m in dyn.modules()) and (int8 - full).abs().max() < 0.2


def test_registered_for_the_asr_and_s2t_tasks() -> None:
    from espnet2.tasks.asr import ASRTask
    from espnet2.tasks.s2t import S2TTask

    for task in (ASRTask, S2TTask):
        choices = next(c for c in task.class_choices_list if c.name == "encoder")
        assert choices.get_class("whisper_dynprune") is WhisperDynPruneEncoder


def test_espnet_s_own_whisper_encoder_tests_pass_on_the_drop_in(checkpoint: str) -> None:
    """The calls of ESPnet's test_whisper_encoder.py, on a local checkpoint (its fixture downloads "tiny")."""
    encoder = WhisperDynPruneEncoder(whisper_model=checkpoint)  # training mode, as ESPnet's
    assert encoder.output_size() == 32
    xs_pad, _, _ = encoder(torch.randn(4, 3200), None)
    assert xs_pad.size() == torch.Size([4, 10, 32])
    xs_pad, olens, _ = encoder(torch.randn(4, 3200), torch.tensor([500, 1000, 1600, 3200]))
    assert xs_pad.size() == torch.Size([4, 10, 32]) and torch.equal(olens, torch.tensor([2, 3, 5, 10]))
    xs_pad.sum().backward()
    with pytest.raises(FileNotFoundError, match="whisper_model='aaa' is neither a Whisper model name"):
        WhisperDynPruneEncoder(whisper_model="aaa")
