"""Load released ESPnet/OWSM weights into a dynprune model, strictly.

ESPnet loads checkpoints with ``strict=False``, which hides key typos and
architecture mismatches. A plugin model is the stock model plus what pruning
adds (gate predictors; static pruning's masks and Lagrangian multipliers; magnitude masks), so
the only keys a stock checkpoint may lack are those; anything else missing or
unexpected is an error that lists them.
"""

from __future__ import annotations

import difflib
import re
import zipfile
from pathlib import Path
from typing import Mapping, Union

import torch

from espnet_dynprune.nets.safe_loading import safe_load

_NEW_KEY = re.compile(r"(^|\.)(gate_predictor|layer_masks)\.|^sparsity\.|(^|\.)magnitude_(mask|ready)$")  # pruning's
_ZIP_MAGIC = b"PK\x03\x04"
_MASK_BUFFER = re.compile(r"(^|\.)magnitude_mask$")  # a 0/1 buffer the size of its weight: not a parameter


def added_by_pruning(key: str) -> bool:
    """Whether ``key`` is one that pruning adds to a stock model (absent from stock checkpoints)."""
    return _NEW_KEY.search(key) is not None


class CheckpointMismatchError(KeyError):
    """Missing or unexpected checkpoint keys; prints its lines (``KeyError`` would quote them)."""

    def __str__(self) -> str:
        return str(self.args[0])


def check_readable(path: Union[str, Path]) -> Path:
    """``path`` if it can be a whole checkpoint; a missing or truncated one raises naming it.

    PyTorch checkpoints are zip files whose directory sits at the end, so a truncated copy
    (an interrupted download) lacks it: torch would fail deep inside with no file name.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    with path.open("rb") as f:
        zipped = f.read(4) == _ZIP_MAGIC
    if zipped and not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is a truncated or damaged PyTorch checkpoint ({path.stat().st_size} bytes, "
                         f"no zip directory at its end): copy or download it again")
    return path


def read_state(path: Union[str, Path], map_location: Union[str, torch.device] = "cpu", mmap: bool = False):
    """What a model file holds, through torch's safe unpickler (a model file is untrusted input:
    :func:`espnet_dynprune.nets.safe_loading.safe_load`); a missing, truncated, unreadable or
    code-carrying file raises naming it."""
    try:
        return safe_load(check_readable(path), map_location=map_location, mmap=mmap)
    except RuntimeError as error:
        raise ValueError(f"cannot read checkpoint {path}: {error}") from error


def _describe(keys: list[str], renames: list[str]) -> str:
    """One line per key; ``renames`` are the keys of the other side (a key missing on one side
    and unexpected on the other is most likely one renamed), each suggested once at most."""
    lines = []
    for key in keys[:20]:
        close = difflib.get_close_matches(key, renames, n=1, cutoff=0.6)
        lines.append(f"  {key}" + (f"  (did you mean {close[0]}?)" if close else ""))
    if len(keys) > 20:
        lines.append(f"  ... and {len(keys) - 20} more")
    return "\n".join(lines)


def load_pretrained(
    model: torch.nn.Module,
    source: Union[str, Path, Mapping[str, torch.Tensor]],
    map_location: Union[str, torch.device] = "cpu",
) -> list[str]:
    """Load ``source`` (a .pth path or a state dict) into ``model``.

    Returns the keys pruning adds that were left at their initial values. Raises
    ``KeyError`` naming every other missing or unexpected key, and
    ``ValueError`` naming the file on a shape mismatch.
    """
    name = str(source) if isinstance(source, (str, Path)) else "the given state dict"
    if isinstance(source, (str, Path)):
        state = read_state(source, map_location)
    else:
        state = dict(source)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise ValueError(f"cannot load {name}: {error}") from error
    missing = [k for k in result.missing_keys if not added_by_pruning(k)]
    unexpected = list(result.unexpected_keys)
    if missing or unexpected:
        parts = [f"{name} does not match the model:"]
        if missing:
            parts.append(f"missing keys ({len(missing)}):\n" + _describe(missing, unexpected))
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}):\n" + _describe(unexpected, missing))
        raise CheckpointMismatchError("\n".join(parts))
    return [k for k in result.missing_keys if added_by_pruning(k)]


def checkpoint_size(path: Union[str, Path]) -> dict[str, int]:
    """Parameters (all, and the encoder's; magnitude masks are not parameters) and bytes of a model file
    (what static pruning shrinks)."""
    state = read_state(path, mmap=True)
    weights = {k: v.numel() for k, v in state.items() if v.is_floating_point() and not _MASK_BUFFER.search(k)}
    return {
        "parameters": sum(weights.values()),
        "encoder_parameters": sum(n for k, n in weights.items() if k.startswith("encoder.")),
        "file_bytes": Path(path).stat().st_size,
    }
