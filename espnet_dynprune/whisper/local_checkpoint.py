"""Let ESPnet's Whisper classes take a checkpoint file where they expect a model name.

ESPnet's ``OpenAIWhisperEncoder`` / ``OpenAIWhisperDecoder`` check ``whisper_model`` against
``whisper.available_models()`` before openai-whisper's ``load_model``, which itself accepts a
path; this context lets the check pass for an existing file.
"""

from __future__ import annotations

import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def local_checkpoint(whisper_model: str, cls: str) -> Iterator[None]:
    """While ESPnet's constructor runs, let its name check accept the checkpoint file
    ``whisper_model``; a missing or unreadable file raises naming it."""
    import whisper

    if whisper_model in whisper.available_models():
        yield
        return
    path = Path(whisper_model)
    if not path.is_file():
        raise FileNotFoundError(
            f"{cls}: whisper_model={whisper_model!r} is neither a Whisper model name "
            f"({', '.join(whisper.available_models())}) nor a checkpoint file"
        )
    names = whisper.available_models
    whisper.available_models = lambda: [*names(), whisper_model]
    try:
        yield
    except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError) as exc:
        raise ValueError(f"{cls}: {path} is not an OpenAI-format Whisper checkpoint: {exc}") from exc
    finally:
        whisper.available_models = names
