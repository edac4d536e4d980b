"""ESPnet's Whisper decoder built from a checkpoint file: the file's weights, the checkpoint's logits, no download."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from espnet2.asr.decoder.whisper_decoder import OpenAIWhisperDecoder
from whisper.model import Whisper

from espnet_dynprune.nets.decoder.whisper_local import LocalWhisperDecoder
from tests.builders.tiny_whisper import TINY, write_checkpoint

PROMPT = [50258, 50259, 50359, 50363]  # <|startoftranscript|><|en|><|transcribe|><|notimestamps|>


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("whisper") / "whisper.pt", TINY)


def test_the_decoder_holds_the_file_s_weights_and_computes_the_checkpoint_s_logits(checkpoint: Path) -> None:
    weights = torch.load(checkpoint, weights_only=True)["model_state_dict"]
    decoder = LocalWhisperDecoder(vocab_size=51865, encoder_output_size=32, whisper_model=str(checkpoint)).eval()
    assert isinstance(decoder, OpenAIWhisperDecoder)
    assert torch.equal(decoder.decoders.token_embedding.weight, weights["decoder.token_embedding.weight"])
    assert torch.equal(decoder.decoders.positional_embedding, weights["decoder.positional_embedding"])
    whisper = Whisper(TINY).eval()
    whisper.load_state_dict(weights)
    memory = torch.randn(1, 1500, 32, generator=torch.Generator().manual_seed(0))
    tokens = torch.tensor([PROMPT])
    with torch.no_grad():
        logits, olens = decoder(memory, torch.tensor([1500]), tokens, torch.tensor([4]))
        expected = whisper.decoder(tokens, memory)
    assert logits.shape == (1, 4, 51865) and olens.tolist() == [4]
    assert torch.allclose(logits, expected, atol=1e-4)


def test_a_missing_or_foreign_file_is_named(checkpoint: Path, tmp_path: Path) -> None:
    import whisper

    names = whisper.available_models()
    with pytest.raises(FileNotFoundError,
                       match="LocalWhisperDecoder: whisper_model='/nowhere/base.pt' is neither a Whisper model name"):
        LocalWhisperDecoder(vocab_size=51865, encoder_output_size=32, whisper_model="/nowhere/base.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="LocalWhisperDecoder: .*foreign.pt is not an OpenAI-format Whisper"):
        LocalWhisperDecoder(vocab_size=51865, encoder_output_size=32, whisper_model=str(foreign))
    assert whisper.available_models() == names  # nothing of the path left behind
