"""Let ESPnet's Whisper classes take a checkpoint file where they expect a model name.

ESPnet's ``OpenAIWhisperEncoder`` / ``OpenAIWhisperDecoder`` check ``whisper_model`` against
``whisper.available_models()`` before openai-whisper's ``load_model``, which itself accepts a
path; :func:`local_checkpoint` lets the check pass for an existing file. A statically pruned
encoder holds every weight in its own model file: :func:`encoder_architecture` builds it from its
dimensions, reading no checkpoint.
"""

from __future__ import annotations

import pickle
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator, Mapping


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



#: ``whisper.model.ModelDimensions`` fields of the audio encoder.
ENCODER_DIMS = ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer")


@contextmanager
def encoder_architecture(whisper_model: str, dims: Mapping[str, int], cls: str) -> Iterator[None]:
    """While ESPnet's encoder constructor runs, ``whisper.load_model(whisper_model)`` builds an
    untrained audio encoder of ``dims`` (:data:`ENCODER_DIMS`) and reads no file: for a model whose
    weights all come from its own model file, so that it rebuilds from its config alone."""
    import whisper
    from whisper.model import AudioEncoder

    valid = isinstance(dims, Mapping) and set(dims) == set(ENCODER_DIMS) and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in dims.values())
    if not valid:
        raise ValueError(f"{cls}: encoder_conf whisper_dims must map each of {list(ENCODER_DIMS)} to an integer "
                         f"> 0, got {dims!r}")
    names, load = whisper.available_models, whisper.load_model
    whisper.available_models = lambda: [*names(), whisper_model]
    whisper.load_model = lambda *_, **__: SimpleNamespace(encoder=AudioEncoder(*(dims[k] for k in ENCODER_DIMS)))
    try:
        yield
    finally:
        whisper.available_models, whisper.load_model = names, load
