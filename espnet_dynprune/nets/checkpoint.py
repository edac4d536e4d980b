"""Load released ESPnet/OWSM weights into a dynprune model, strictly.

ESPnet loads checkpoints with ``strict=False``, which hides key typos and
architecture mismatches. A dynprune model is the stock model plus gate
predictors, so the only keys a stock checkpoint may lack are the gate
predictors'; anything else missing or unexpected is an error that lists them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Mapping, Union

import torch

_GATE_KEY = re.compile(r"(^|\.)gate_predictor\.")


def _describe(keys: list[str], candidates: list[str]) -> str:
    lines = []
    for key in keys[:20]:
        close = difflib.get_close_matches(key, candidates, n=1)
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

    Returns the gate-predictor keys left at their initial values. Raises
    ``KeyError`` naming every other missing or unexpected key, and
    ``ValueError`` naming the file on a shape mismatch.
    """
    name = str(source) if isinstance(source, (str, Path)) else "the given state dict"
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise FileNotFoundError(f"checkpoint {source} does not exist")
        state = torch.load(source, map_location=map_location, weights_only=True)
    else:
        state = dict(source)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise ValueError(f"cannot load {name}: {error}") from error
    missing = [k for k in result.missing_keys if not _GATE_KEY.search(k)]
    if missing or result.unexpected_keys:
        parts = [f"{name} does not match the model:"]
        if missing:
            parts.append(f"missing keys ({len(missing)}):\n" + _describe(missing, list(state)))
        if result.unexpected_keys:
            expected = list(model.state_dict())
            parts.append(
                f"unexpected keys ({len(result.unexpected_keys)}):\n"
                + _describe(list(result.unexpected_keys), expected)
            )
        raise KeyError("\n".join(parts))
    return [k for k in result.missing_keys if _GATE_KEY.search(k)]
