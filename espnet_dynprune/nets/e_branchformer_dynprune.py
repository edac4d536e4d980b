"""E-Branchformer encoder with context-aware dynamic module pruning.

Masao Someki et al., "Context-aware Dynamic Pruning for Speech Foundation
Models", ICLR 2025. Registered as ``encoder: e_branchformer_dynprune``; every
``encoder_conf`` key of ESPnet's ``e_branchformer`` keeps its meaning, and the
state dict is ESPnet's plus ``gate_predictor.*``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask
from espnet.nets.pytorch_backend.transformer.subsampling import (
    TooShortUttError,
    check_short_utt,
)
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from typeguard import typechecked

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.gated_e_branchformer_layer import (
    ATTN,
    CGMLP,
    FFN1,
    FFN2,
    MODULE_TYPES,
    layer_gated_forward,
    module_gated_forward,
    unit_macs_per_frame,
)
from espnet_dynprune.nets.gated_part import GatedPart


class EBranchformerDynPruneEncoder(EBranchformerEncoder, GatedPart):
    """E-Branchformer encoder whose FFN1 / attention / cgMLP / FFN2 are gated.

    Args:
        input_size: input feature dimension (as ESPnet's ``e_branchformer``).
        sparsity_target: fraction of gated modules to skip, in [0, 1).
        gate_predictor: ``context`` (speech + language + task, the paper),
            ``speech`` (I3D-style, speech only) or ``none`` (dense).
        gate_granularity: ``module`` (4 gates per layer) or ``layer`` (1).
        gate_hidden_size: hidden width of the gate predictor's MLP.
        gate_context_size: size of the language and the task embeddings.
        gumbel_tau_start, gumbel_tau_end, gumbel_anneal_steps: Gumbel-softmax
            temperature, annealed linearly over training updates.
        skip_rows_in_training: skip modules for real in training too (faster at
            high sparsity; skipped gates then get no task-loss gradient).
        **kwargs: every other ``e_branchformer`` key (``output_size``, ...).
    """

    module_types = MODULE_TYPES

    @typechecked
    def __init__(
        self,
        input_size: int,
        sparsity_target: float = 0.5,
        gate_predictor: str = "context",
        gate_granularity: str = "module",
        gate_hidden_size: int = 256,
        gate_context_size: int = 64,
        gumbel_tau_start: float = 1.0,
        gumbel_tau_end: float = 0.1,
        gumbel_anneal_steps: int = 10000,
        skip_rows_in_training: bool = False,
        **kwargs,
    ) -> None:
        _check_supported(kwargs)
        super().__init__(input_size, **kwargs)
        self._init_gating(
            self.output_size(), len(self.encoders), sparsity_target, gate_predictor,
            gate_granularity, gate_hidden_size, gate_context_size, gumbel_tau_start,
            gumbel_tau_end, gumbel_anneal_steps, skip_rows_in_training,
        )
        self._context: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    @contextmanager
    def context(self, language: torch.Tensor, task: torch.Tensor) -> Iterator[None]:
        """Language/task embedding indices (B,) for the forward passes inside.

        ESPnet's models call ``encoder(feats, lens)`` with no context argument,
        so ``model: dynprune`` sets it around its call instead.
        """
        self._context = (language, task)
        try:
            yield
        finally:
            self._context = None

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: torch.Tensor = None,
        masks: torch.Tensor = None,
        ctc=None,
        max_layer: int = None,
        return_all_hs: bool = False,
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Encode, deciding the gates of every layer from the subsampled input.

        Same arguments and outputs as ESPnet's ``EBranchformerEncoder.forward``.
        """
        if masks is None:
            masks = (~make_pad_mask(ilens)[:, None, :]).to(xs_pad.device)
        else:
            masks = ~masks[:, None, :]
        xs, masks = self._embed(xs_pad, masks)
        x, pos_emb = xs if isinstance(xs, tuple) else (xs, None)

        language, task = self._context if self._context is not None else (None, None)
        decision = self.gate_predictor(x, masks.squeeze(1), language, task)

        hidden = []
        for i, layer in enumerate(self.encoders):
            if max_layer is not None and i >= max_layer:
                break
            if self.gate_granularity == "layer":
                x = layer_gated_forward(layer, x, masks, pos_emb, decision, i)
            else:
                x = module_gated_forward(
                    layer, x, masks, pos_emb, decision, lambda m, i=i: self.gate_index(i, m)
                )
            if return_all_hs:
                hidden.append(x)
        x = self.after_norm(x)
        olens = masks.squeeze(1).sum(1)
        if hidden:
            return (x, hidden), olens, None
        return x, olens, None

    def _embed(self, xs_pad: torch.Tensor, masks: torch.Tensor):
        too_short, limit = check_short_utt(self.embed, xs_pad.size(1))
        if too_short:
            raise TooShortUttError(
                f"input of {xs_pad.size(1)} frames is too short for "
                f"{type(self.embed).__name__} (it needs at least {limit} frames)",
                xs_pad.size(1),
                limit,
            )
        if isinstance(self.embed, (torch.nn.Sequential, torch.nn.Linear)):
            return self.embed(xs_pad), masks
        return self.embed(xs_pad, masks)

    def unit_costs(self, decision: GateDecision, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Skipped flags and MACs of FFN1, attention, cgMLP, merge, FFN2 per layer."""
        macs = unit_macs_per_frame(self.encoders[0], num_frames)
        keep = self.gates_per_module(decision).detach()
        kept = {m: keep[..., i] for i, m in enumerate(self.module_types)}
        merge_kept = 1.0 - (1.0 - kept[ATTN]) * (1.0 - kept[CGMLP])
        order = (FFN1, ATTN, CGMLP, "merge", FFN2)
        skipped = torch.stack(
            [1.0 - (merge_kept if u == "merge" else kept[u]) for u in order], dim=-1
        ).flatten(1)
        costs = torch.tensor([macs[u] * num_frames for u in order], dtype=torch.float64)
        return skipped.cpu().double(), costs.repeat(self.num_gated_layers)


def _check_supported(kwargs: dict) -> None:
    """Reject e_branchformer options that gating does not support, naming the key."""
    unsupported = {
        "interctc_layer_idx": lambda v: bool(v),
        "layer_drop_rate": lambda v: v != 0.0,
        "gradient_checkpoint_layers": lambda v: bool(v),
        "attention_layer_type": lambda v: v == "fast_selfattn",
    }
    for key, bad in unsupported.items():
        if key in kwargs and bad(kwargs[key]):
            raise ValueError(
                f"encoder_conf {key}: {kwargs[key]!r} is not supported by "
                "e_branchformer_dynprune (gates replace layer drop; no InterCTC, "
                "gradient checkpointing or fast_selfattn)"
            )
    for key in ("use_ffn", "macaron_ffn"):
        if kwargs.get(key) is not True:
            raise ValueError(
                f"encoder_conf {key} must be true for e_branchformer_dynprune "
                f"(OWSM's macaron layout gates FFN1 and FFN2), got {kwargs.get(key)!r}"
            )
