"""Reading CTranslate2's model.bin: every dtype, aliases, and refusal of damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from espnet_dynprune.whisper.ctranslate2_format import read_model_bin
from tests.builders.ct2_files import write_model_bin

VARIABLES = {
    "encoder/conv1/weight": np.arange(12, dtype="<f2").reshape(4, 3),
    "decoder/embeddings/weight": np.linspace(-1, 1, 10, dtype="<f4").reshape(5, 2),
    "decoder/num_heads": np.array(6, dtype="<i2"),
    "decoder/activation": np.array(3, dtype="i1"),
    "decoder/ids": np.array([1, -2], dtype="<i4"),
}


def test_reads_every_variable_and_alias(tmp_path: Path) -> None:
    path = write_model_bin(tmp_path / "model.bin", VARIABLES, {"decoder/projection/weight": "decoder/embeddings/weight"})
    model = read_model_bin(path)
    assert (model.spec, model.revision) == ("WhisperSpec", 3)
    for name, array in VARIABLES.items():
        assert torch.equal(model.variables[name], torch.from_numpy(array)), name
    assert model.variables["encoder/conv1/weight"].dtype == torch.float16
    assert torch.equal(model.get("decoder/projection/weight"), model.get("decoder/embeddings/weight"))
    with pytest.raises(KeyError, match="decoder/nothing"):
        model.get("decoder/nothing")


def test_a_truncated_file_names_the_variable_and_offset(tmp_path: Path) -> None:
    path = write_model_bin(tmp_path / "model.bin", VARIABLES)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match=r"model\.bin: truncated or corrupt at byte \d+: size of encoder/conv1/weight needs 4 bytes, 1 left"):
        read_model_bin(path)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b"\x09\x00\x00\x00" + b[4:], "binary version 9"),
        (lambda b: b + b"junk", "4 unread bytes"),
    ],
)
def test_damaged_headers_and_tails_are_refused(tmp_path: Path, damage, message: str) -> None:
    path = write_model_bin(tmp_path / "model.bin", VARIABLES)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=message):
        read_model_bin(path)


def test_a_size_that_does_not_match_the_shape_is_refused(tmp_path: Path) -> None:
    path = write_model_bin(tmp_path / "model.bin", {"x": np.zeros((2, 2), dtype="<f4")})
    data = bytearray(path.read_bytes())
    size_at = data.index(b"\x10\x00\x00\x00")  # 16 bytes of a 2 x 2 float32
    data[size_at] = 0x20
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="says 32 bytes, expected 16"):
        read_model_bin(path)
