"""Model files are untrusted input: ESPnet's loaders unpickle them without torch's safe unpickler.

A ``.pth`` is a pickle; ``torch.load(..., weights_only=False)`` runs whatever code it names.
ESPnet 202511 calls it that way where it reads a model file: ``AbsTask.build_model_from_file``
(``Speech2Text``, ``s2t_inference``), ``load_pretrained_model`` (``--init_param``),
``Trainer.resume`` (``--resume``, ESPnet's ``checkpoint.pth``) and ``average_nbest_models``.
:func:`guard_module` gives each of those modules a ``torch`` whose ``load`` always uses
``weights_only=True``: tensors, containers and plain values load as before; anything else is
refused with :class:`UnsafeModelFileError`, naming the file and the object it holds, and nothing of
it runs. Besides tensors, ESPnet's own ``checkpoint.pth`` holds numpy scalars and dtypes (reporter
statistics) and ``datetime.timedelta`` (elapsed times); those data types are allowed (:data:`ALLOWED`),
since they construct values and call nothing. The package's start-up hook guards each module as it
is imported (:mod:`espnet_dynprune._import_hook`), so stock ``python -m espnet2.bin...`` is guarded
too; the plugin's own loaders call :func:`safe_load` (through ``nets.checkpoint.read_state``).
"""

from __future__ import annotations

import datetime
import pickle
import types
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

#: ESPnet's modules that call ``torch.load(..., weights_only=False)``.
GUARDED = ("espnet2.tasks.abs_task", "espnet2.torch_utils.load_pretrained_model", "espnet2.train.trainer",
           "espnet2.main_funcs.average_nbest_models")
#: Data types ESPnet's checkpoints hold beyond what ``weights_only`` allows by default.
ALLOWED = [np._core.multiarray.scalar, (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),  # numpy 2, 1
           np.dtype, datetime.timedelta,
           *(getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType"))]


class UnsafeModelFileError(ValueError):
    """A model file holds objects that unpickling would construct by running code: refused."""


def _name(f: Any) -> str:
    return str(f) if isinstance(f, (str, Path)) else str(getattr(f, "name", f))


def safe_load(f: Any, map_location: Any = None, weights_only: Any = None, **kwargs: Any) -> Any:
    """``torch.load`` with ``weights_only=True`` whatever the caller asks (``weights_only`` is ignored)."""
    try:
        with torch.serialization.safe_globals(ALLOWED):
            return torch.load(f, map_location=map_location, weights_only=True, **kwargs)
    except pickle.UnpicklingError as error:
        reason = next((line.strip() for line in str(error).splitlines() if "Unsupported" in line), str(error))
        raise UnsafeModelFileError(
            f"{_name(f)}: refused to load: it holds objects beyond weights, which unpickling would create by "
            f"running code ({reason}). Nothing of it ran. Load only model files from sources you trust; "
            f"a file of tensors (a state dict) loads.") from None


class _SafeTorch(types.ModuleType):
    """``torch`` as a module sees it, except that ``load`` is :func:`safe_load`."""

    load = staticmethod(safe_load)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


SAFE_TORCH = _SafeTorch("torch")


def guard_module(module: types.ModuleType) -> None:
    """Make ``module``'s ``torch.load`` calls safe (an import-hook callback)."""
    if getattr(module, "torch", None) is torch:
        module.torch = SAFE_TORCH


def guard_espnet(abs_task: Optional[types.ModuleType] = None) -> None:
    """Guard every module of :data:`GUARDED` (an import-hook callback when ``espnet2.tasks.abs_task``,
    which imports the others, has been imported)."""
    import importlib

    for name in GUARDED:
        guard_module(importlib.import_module(name))
