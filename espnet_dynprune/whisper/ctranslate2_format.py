"""CTranslate2's ``model.bin`` (the faster-whisper format), read without CTranslate2.

The file is little-endian: ``u32`` binary version, a string (the spec's name), ``u32`` revision,
``u32`` number of variables, then per variable its name (string), ``u8`` rank, ``u32`` per
dimension, ``u8`` dtype, ``u32`` byte count and the raw data; after the variables ``u32`` number
of aliases and pairs of strings. A string is ``u16`` length (counting a trailing NUL) and bytes.

A model file is untrusted input: every count and size is checked against the bytes that are
actually there, so a truncated or corrupted file raises naming the file, the variable and the
offset instead of reading garbage or allocating what a bad count asks for.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, Tuple, Union

import numpy as np
import torch

#: CTranslate2's dtype codes.
DTYPES: Dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),  # bfloat16: raw 16-bit words, widened below
}
BFLOAT16 = 5
SUPPORTED_VERSIONS = (5, 6)
MAX_RANK = 8


@dataclass(frozen=True)
class ModelBin:
    """What a ``model.bin`` holds: the spec's name and revision, variables and aliases."""

    spec: str
    revision: int
    variables: Dict[str, torch.Tensor]
    aliases: Dict[str, str]

    def get(self, name: str) -> torch.Tensor:
        """Variable ``name`` (following an alias); a missing one raises naming it."""
        name = self.aliases.get(name, name)
        if name not in self.variables:
            raise KeyError(f"{self.spec} model.bin has no variable {name!r}")
        return self.variables[name]


class _Reader:
    """Bounded reads from one file; every shortfall raises naming the file and offset."""

    def __init__(self, fp: BinaryIO, path: Path, size: int) -> None:
        self.fp, self.path, self.size = fp, path, size

    def take(self, n: int, what: str) -> bytes:
        offset = self.fp.tell()
        if n < 0 or offset + n > self.size:
            raise ValueError(
                f"{self.path}: truncated or corrupt at byte {offset}: {what} needs {n} bytes, "
                f"{self.size - offset} left (file of {self.size} bytes)"
            )
        return self.fp.read(n)

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def string(self, what: str) -> str:
        raw = self.take(self.u16(what), what)
        return raw.rstrip(b"\0").decode("utf-8")


def read_model_bin(path: Union[str, Path]) -> ModelBin:
    """All variables of ``path`` as tensors (float16 stays float16; bfloat16 becomes bfloat16)."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fp:
        r = _Reader(fp, path, size)
        version = r.u32("binary version")
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"{path}: CTranslate2 binary version {version}, expected one of {SUPPORTED_VERSIONS}")
        spec = r.string("spec name")
        revision = r.u32("spec revision")
        variables: Dict[str, torch.Tensor] = {}
        for index in range(r.u32("number of variables")):
            name = r.string(f"name of variable {index}")
            variables[name] = _read_variable(r, name)
        aliases: Dict[str, str] = {}
        if fp.tell() < size:
            for index in range(r.u32("number of aliases")):
                alias = r.string(f"alias {index}")
                aliases[alias] = r.string(f"target of alias {alias!r}")
        if fp.tell() != size:
            raise ValueError(f"{path}: {size - fp.tell()} unread bytes after the aliases (not a {spec} model.bin?)")
    return ModelBin(spec, revision, variables, aliases)


def _read_variable(r: _Reader, name: str) -> torch.Tensor:
    rank = r.u8(f"rank of {name}")
    if rank > MAX_RANK:
        raise ValueError(f"{r.path}: variable {name!r} has rank {rank} (at most {MAX_RANK} expected)")
    shape: Tuple[int, ...] = tuple(r.u32(f"shape of {name}") for _ in range(rank))
    code = r.u8(f"dtype of {name}")
    if code not in DTYPES:
        raise ValueError(f"{r.path}: variable {name!r} has unknown dtype code {code}")
    dtype = DTYPES[code]
    nbytes = r.u32(f"size of {name}")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes != expected:
        raise ValueError(f"{r.path}: variable {name!r} of shape {shape} and dtype {dtype} says {nbytes} bytes, expected {expected}")
    array = np.frombuffer(r.take(nbytes, f"data of {name}"), dtype=dtype).reshape(shape)
    if code == BFLOAT16:
        return torch.from_numpy(array.astype(np.int16)).view(torch.bfloat16).clone()
    return torch.from_numpy(array.copy())
