"""ESPnet's Whisper encoder and decoder, built from a local checkpoint file instead of a download.

ESPnet's ``OpenAIWhisperEncoder`` / ``OpenAIWhisperDecoder`` take a model name, check it against
``whisper.available_models()`` and call ``whisper.load_model(name)``, which downloads OpenAI's file
unless ``download_dir`` already holds it byte for byte. These subclasses (``encoder: whisper_local``,
``decoder: whisper_local``) also take ``whisper_model: /path/to/whisper.pt``, an OpenAI-format
checkpoint such as ``python -m espnet_dynprune.bin.whisper_convert`` writes from faster-whisper
or OpenAI files, and let openai-whisper's own ``load_model`` read it (it accepts a path; only
ESPnet's name check does not). A model name behaves exactly as in ESPnet. Forward, scoring and
every other key are ESPnet's, unchanged: this is stock ESPnet Whisper fed from a file.
"""

from __future__ import annotations

import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from espnet2.asr.decoder.whisper_decoder import OpenAIWhisperDecoder
from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder
from typeguard import typechecked


@contextmanager
def _local_checkpoint(whisper_model: str, cls: str) -> Iterator[None]:
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


class LocalWhisperEncoder(OpenAIWhisperEncoder):
    """``encoder: whisper_local``: ESPnet's Whisper encoder; ``whisper_model`` may be a file."""

    @typechecked
    def __init__(
        self,
        input_size: int = 1,
        dropout_rate: float = 0.0,
        whisper_model: str = "small",
        download_dir: Optional[str] = None,
        use_specaug: bool = False,
        specaug_conf: Optional[dict] = None,
        do_pad_trim: bool = False,
    ) -> None:
        with _local_checkpoint(whisper_model, type(self).__name__):
            super().__init__(
                input_size=input_size,
                dropout_rate=dropout_rate,
                whisper_model=whisper_model,
                download_dir=download_dir,
                use_specaug=use_specaug,
                specaug_conf=specaug_conf,
                do_pad_trim=do_pad_trim,
            )


class LocalWhisperDecoder(OpenAIWhisperDecoder):
    """``decoder: whisper_local``: ESPnet's Whisper decoder; ``whisper_model`` may be a file."""

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        dropout_rate: float = 0.0,
        whisper_model: str = "small",
        download_dir: Optional[str] = None,
        load_origin_token_embedding: bool = False,
    ) -> None:
        with _local_checkpoint(whisper_model, type(self).__name__):
            super().__init__(
                vocab_size=vocab_size,
                encoder_output_size=encoder_output_size,
                dropout_rate=dropout_rate,
                whisper_model=whisper_model,
                download_dir=download_dir,
                load_origin_token_embedding=load_origin_token_embedding,
            )
