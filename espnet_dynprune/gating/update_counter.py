"""Count the optimiser updates that change a module, not its forward passes.

A schedule over "updates" (the Gumbel temperature) must not run ``accum_grad``
times too fast when gradients are accumulated over several forward passes, and
must not advance on a step that AMP's gradient scaler skipped. Counting forward
passes gets both wrong; the optimiser's own step is the update. PyTorch calls a
global post-step hook after every ``Optimizer.step`` that really ran: one such
hook, registered once, counts the steps of optimisers that hold a watched
module's parameters. Modules are held by weak reference only.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, Optional

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils.hooks import RemovableHandle

OnUpdate = Callable[[torch.nn.Module], None]
_watched: "weakref.WeakKeyDictionary[torch.nn.Module, OnUpdate]" = weakref.WeakKeyDictionary()
_handle: Optional[RemovableHandle] = None


def count_updates(module: torch.nn.Module, on_update: OnUpdate) -> None:
    """Call ``on_update(module)`` after each optimiser step that updates ``module``.

    ``module`` is updated by an optimiser whose parameter groups hold any of its
    parameters (checked at every step, so a later ``add_param_group`` counts).
    """
    global _handle
    _watched[module] = on_update
    if _handle is None:
        _handle = register_optimizer_step_post_hook(_after_step)


def _after_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    if not _watched:
        return
    stepped = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for module, on_update in list(_watched.items()):
        if any(id(p) in stepped for p in module.parameters()):
            on_update(module)
