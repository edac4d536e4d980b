"""Steps of ESPnet's E-Branchformer forward pass that encoders running their own layer loop share.

The dynamically gated and the statically masked encoders replace ESPnet's loop over layers but
must keep its input layer (with ESPnet's "too short" error) and its gradient checkpointing
(``gradient_checkpoint_layers``: 0 = the input layer, i = layer i; the decoders that run their own
layer loop checkpoint the same way).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.utils.checkpoint
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.espnet_compat import TooShortUttError, check_short_utt


def checkpointed(part: torch.nn.Module, index: int, fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, recomputed in backward when ``index`` is one of ``part``'s
    ``gradient_checkpoint_layers`` (ESPnet's encoders and decoders both have the key)."""
    if index in part.gradient_checkpoint_layers and torch.is_grad_enabled():
        return torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False, **kwargs)
    return fn(*args, **kwargs)


def embed(encoder: EBranchformerEncoder, xs_pad: torch.Tensor, masks: torch.Tensor):
    """The input layer: ``(xs, masks)``, ``xs`` a tensor or ``(x, pos_emb)``."""
    too_short, limit = check_short_utt(encoder.embed, xs_pad.size(1))
    if too_short:
        raise TooShortUttError(
            f"input of {xs_pad.size(1)} frames is too short for "
            f"{type(encoder.embed).__name__} (it needs at least {limit} frames)",
            xs_pad.size(1),
            limit,
        )
    if isinstance(encoder.embed, (torch.nn.Sequential, torch.nn.Linear)):
        return encoder.embed(xs_pad), masks
    return encoder.embed(xs_pad, masks)
