"""While ESPnet builds a Whisper class, a checkpoint file passes its model-name check; names pass
as they are; a missing file is named; openai-whisper's model list is restored afterwards."""

import pytest
import whisper

from espnet_dynprune.whisper.local_checkpoint import local_checkpoint


def test_a_file_is_a_model_name_inside_the_context_only(tmp_path):
    path = tmp_path / "whisper.pt"
    path.write_bytes(b"")
    before = whisper.available_models()
    with local_checkpoint(str(path), "LocalWhisperEncoder"):
        assert str(path) in whisper.available_models()
    assert whisper.available_models() == before


def test_a_model_name_passes_unchanged():
    before = whisper.available_models()
    with local_checkpoint("tiny", "LocalWhisperEncoder"):
        assert whisper.available_models() == before


def test_a_missing_file_is_named_with_the_class(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=f"LocalWhisperDecoder: whisper_model='{missing}' is neither"):
        with local_checkpoint(str(missing), "LocalWhisperDecoder"):
            pass


def test_an_unreadable_checkpoint_is_named(tmp_path):
    path = tmp_path / "whisper.pt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{path} is not an OpenAI-format Whisper checkpoint"):
        with local_checkpoint(str(path), "LocalWhisperEncoder"):
            raise RuntimeError("PytorchStreamReader failed reading zip archive")
