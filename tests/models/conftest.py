"""The converted tiny Whisper the Whisper model tests share."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.models.export import build_model


@pytest.fixture(scope="session")
def whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Whisper as ESPnet's ASR task reads it (bin.whisper_convert), and its state dict (``dense.pth``)."""
    from espnet_dynprune.bin.whisper_convert import convert
    from tests.builders.tiny_whisper import TINY, write_checkpoint

    root = tmp_path_factory.mktemp("whisper")
    convert(str(root / "model"), src=str(write_checkpoint(root / "tiny.pt", TINY)))
    config = yaml.safe_load((root / "model" / "config.yaml").read_text())
    torch.save(build_model(config, "asr").state_dict(), root / "model" / "dense.pth")
    return root / "model"
