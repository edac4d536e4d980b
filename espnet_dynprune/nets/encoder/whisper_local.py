"""ESPnet's Whisper encoder and decoder, built from a local checkpoint file instead of a download.

ESPnet's ``OpenAIWhisperEncoder`` / ``OpenAIWhisperDecoder`` take a model name, check it against
``whisper.available_models()`` and call ``whisper.load_model(name)``, which downloads OpenAI's file
unless ``download_dir`` already holds it byte for byte. These subclasses (``encoder: whisper_local``,
``decoder: whisper_local``) also take ``whisper_model: /path/to/whisper.pt``, an OpenAI-format
checkpoint such as ``python -m espnet_dynprune.bin.whisper_convert`` writes from faster-whisper
or OpenAI files, and let openai-whisper's own ``load_model`` read it (it accepts a path; only
ESPnet's name check does not). A model name behaves exactly as in ESPnet. Forward, scoring and
every other key are ESPnet's, unchanged: this is stock ESPnet Whisper fed from a file.

Its subclasses (gated, masked, pruned) keep ESPnet's ``whisper_encode`` (convolutions, positional
embedding, dropout between blocks, final norm) and change only how each block runs
(:func:`blocks_run_by`).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import torch
from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder
from typeguard import typechecked

from espnet_dynprune.whisper.local_checkpoint import local_checkpoint


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
        with local_checkpoint(whisper_model, type(self).__name__):
            super().__init__(
                input_size=input_size,
                dropout_rate=dropout_rate,
                whisper_model=whisper_model,
                download_dir=download_dir,
                use_specaug=use_specaug,
                specaug_conf=specaug_conf,
                do_pad_trim=do_pad_trim,
            )


BlockRun = Callable[[int, torch.nn.Module, torch.Tensor], torch.Tensor]  # (index, block, x) -> block output


class _BlockRunners(torch.nn.Module):
    """Stands in for ``encoders.blocks`` while ESPnet's ``whisper_encode`` iterates over them: the
    i-th item runs ``run(i, block_i, x)``. Holds no parameters."""

    def __init__(self, blocks: torch.nn.ModuleList, run: BlockRun) -> None:
        super().__init__()
        self.__dict__.update(_blocks=blocks, _run=run)  # not submodules: they stay where they are

    def __len__(self) -> int:
        return len(self._blocks)

    def __iter__(self) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
        return ((lambda x, i=i: self._run(i, self._blocks[i], x)) for i in range(len(self)))


@contextmanager
def blocks_run_by(encoder: OpenAIWhisperEncoder, run: BlockRun) -> Iterator[None]:
    """Inside, ESPnet's ``whisper_encode`` of ``encoder`` runs its block i as ``run(i, block, x)``."""
    blocks = encoder.encoders.blocks
    encoder.encoders._modules["blocks"] = _BlockRunners(blocks, run)
    try:
        yield
    finally:
        encoder.encoders._modules["blocks"] = blocks
