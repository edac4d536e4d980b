"""What the Whisper tests read: a random-weight OpenAI checkpoint file, a real recorded prompt."""

from pathlib import Path

import numpy as np
import torch
from whisper.model import ModelDimensions, Whisper

#: A two-block Whisper of width 32 (random weights: fast, every code path of a real one).
TINY = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=2, n_audio_layer=2,
                       n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=2, n_text_layer=1)


def write_checkpoint(path: Path, dims: ModelDimensions) -> Path:
    """Save a seeded Whisper; its text positional embedding is ``torch.empty`` in OpenAI's code, so fill it."""
    torch.manual_seed(0)
    model = Whisper(dims)
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(std=0.01)
    torch.save({"dims": vars(dims), "model_state_dict": model.state_dict()}, path)
    return path


#: A real recording (Allison, the English Asterisk voice; make sysdeps installs it).
PROMPT = Path("/usr/share/asterisk/sounds/en_US_f_Allison/agent-alreadyon.wav")


def real_prompt() -> np.ndarray:
    """``PROMPT`` at 16 kHz, float32 in [-1, 1)."""
    from espnet_dynprune.corpora.audio_io import decode

    assert PROMPT.is_file(), f"{PROMPT} missing: make sysdeps installs asterisk-core-sounds-en-wav"
    return decode(str(PROMPT), 16000).astype("float32") / 32768
