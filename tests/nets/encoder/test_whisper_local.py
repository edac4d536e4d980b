"""ESPnet's Whisper encoder built from a checkpoint file: same modules, no download."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder
from whisper.model import ModelDimensions

from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
from tests.builders.tiny_whisper import write_checkpoint

DIMS = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=1,
                       n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("whisper") / "whisper.pt", DIMS)


def test_the_encoder_holds_the_file_s_weights_and_runs_as_espnet_s(checkpoint: Path) -> None:
    weights = torch.load(checkpoint, weights_only=True)["model_state_dict"]
    encoder = LocalWhisperEncoder(whisper_model=str(checkpoint), do_pad_trim=True)
    assert isinstance(encoder, OpenAIWhisperEncoder)
    assert torch.equal(encoder.encoders.conv1.weight, weights["encoder.conv1.weight"])
    encoder.eval()
    speech = torch.randn(1, 16000) * 0.1
    hs, _, _ = encoder(speech, torch.tensor([16000]))
    assert hs.shape == (1, 1500, 32)


def test_a_missing_or_foreign_file_is_named(checkpoint: Path, tmp_path: Path) -> None:
    import whisper

    names = whisper.available_models()
    with pytest.raises(FileNotFoundError, match="whisper_model='/nowhere/base.pt' is neither a Whisper model name"):
        LocalWhisperEncoder(whisper_model="/nowhere/base.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="LocalWhisperEncoder: .*foreign.pt is not an OpenAI-format Whisper"):
        LocalWhisperEncoder(whisper_model=str(foreign))
    assert whisper.available_models() == names  # nothing of the path left behind
