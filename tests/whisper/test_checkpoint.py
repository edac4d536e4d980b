"""Whisper weights in OpenAI's layout from CTranslate2 and OpenAI files; the checks that refuse the rest."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from whisper.model import ModelDimensions, Whisper

from espnet_dynprune.whisper.checkpoint import read_checkpoint, read_ctranslate2, read_openai
from tests.builders.ct2_files import whisper_spec_variables, write_model_bin

DIMS = ModelDimensions(n_mels=80, n_audio_ctx=30, n_audio_state=16, n_audio_head=2, n_audio_layer=2,
                       n_vocab=60, n_text_ctx=12, n_text_state=16, n_text_head=2, n_text_layer=2)


@pytest.fixture
def model() -> Whisper:
    torch.manual_seed(0)
    whisper = Whisper(DIMS)
    with torch.no_grad():  # OpenAI initialises biases and norms to constants: make every tensor tell
        for p in whisper.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    return whisper.half().float()  # values fp16 can hold, as the packages ship them


def test_ctranslate2_whisper_becomes_openai_whisper_exactly(tmp_path: Path, model: Whisper) -> None:
    variables = whisper_spec_variables(model.state_dict(), heads=2)
    write_model_bin(tmp_path / "model.bin", variables, {"decoder/projection/weight": "decoder/embeddings/weight"})
    checkpoint = read_checkpoint(tmp_path)  # the directory, as faster-whisper has it
    assert checkpoint.dims == vars(DIMS)
    restored = Whisper(ModelDimensions(**checkpoint.dims))
    restored.load_state_dict(checkpoint.state_dict, strict=True)
    for name, tensor in model.state_dict().items():
        assert torch.equal(restored.state_dict()[name], tensor), name
    assert all(t.dtype == torch.float32 for t in checkpoint.state_dict.values())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda v: v.__setitem__("decoder/activation", np.array(1, dtype="i1")), "decoder/activation=1"),
        (lambda v: v.__setitem__("decoder/extra/weight", np.zeros(2, dtype="<f2")), "does not know"),
        (lambda v: v["encoder/layer_0/self_attention/linear_0/bias"].__setitem__(20, 1.0), "key bias is not zero"),
        (lambda v: v.pop("decoder/layer_norm/gamma"), "decoder/layer_norm/gamma"),
    ],
)
def test_what_would_need_more_than_widening_is_refused(tmp_path: Path, model: Whisper, change, message: str) -> None:
    variables = whisper_spec_variables(model.state_dict(), heads=2)
    change(variables)
    write_model_bin(tmp_path / "model.bin", variables)
    with pytest.raises((ValueError, KeyError), match=message):
        read_ctranslate2(tmp_path / "model.bin")


def test_another_spec_is_refused(tmp_path: Path) -> None:
    write_model_bin(tmp_path / "model.bin", {"x": np.zeros(1, dtype="<f4")}, spec="TransformerSpec")
    with pytest.raises(ValueError, match="holds a TransformerSpec"):
        read_checkpoint(tmp_path / "model.bin")


def test_openai_files_round_trip_and_code_in_a_pickle_is_not_run(tmp_path: Path, model: Whisper) -> None:
    original = tmp_path / "tiny.pt"
    torch.save({"dims": vars(DIMS), "model_state_dict": model.half().state_dict()}, original)
    checkpoint = read_openai(original)
    assert checkpoint.state_dict["decoder.ln.weight"].dtype == torch.float32
    checkpoint.save(tmp_path / "again.pt")
    assert read_openai(tmp_path / "again.pt").dims == vars(DIMS)

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "ran",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"dims": vars(DIMS), "model_state_dict": Payload()}))
    with pytest.raises(ValueError, match="evil.pt: not a loadable OpenAI Whisper checkpoint"):
        read_checkpoint(evil)
    assert not (tmp_path / "ran").exists()
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_checkpoint(tmp_path / "nowhere")
