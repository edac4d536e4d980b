"""A random-weight OpenAI Whisper checkpoint file, as ``whisper_local`` and ``whisper_dynprune`` read them."""

from pathlib import Path

import torch
from whisper.model import ModelDimensions, Whisper


def write_checkpoint(path: Path, dims: ModelDimensions) -> Path:
    """Save a seeded Whisper; its text positional embedding is ``torch.empty`` in OpenAI's code, so fill it."""
    torch.manual_seed(0)
    model = Whisper(dims)
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(std=0.01)
    torch.save({"dims": vars(dims), "model_state_dict": model.state_dict()}, path)
    return path
