"""ESPnet's Whisper decoder, built from a local checkpoint file instead of a download.

``decoder: whisper_local`` takes ``whisper_model: /path/to/whisper.pt`` as the encoder of the
same name does (:mod:`espnet_dynprune.nets.encoder.whisper_local` says why and how); a model
name behaves exactly as in ESPnet.
"""

from __future__ import annotations

from typing import Optional

from espnet2.asr.decoder.whisper_decoder import OpenAIWhisperDecoder
from typeguard import typechecked

from espnet_dynprune.whisper.local_checkpoint import local_checkpoint


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
        with local_checkpoint(whisper_model, type(self).__name__):
            super().__init__(
                vocab_size=vocab_size,
                encoder_output_size=encoder_output_size,
                dropout_rate=dropout_rate,
                whisper_model=whisper_model,
                download_dir=download_dir,
                load_origin_token_embedding=load_origin_token_embedding,
            )
