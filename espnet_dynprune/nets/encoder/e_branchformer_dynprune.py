"""E-Branchformer encoder with context-aware dynamic module pruning.

Masao Someki et al., "Context-aware Dynamic Pruning for Speech Foundation
Models", ICLR 2025. Registered as ``encoder: e_branchformer_dynprune``; every
``encoder_conf`` key of ESPnet's ``e_branchformer`` keeps its meaning (layer drop,
InterCTC and gradient checkpointing compose with the gates), and the state dict
is ESPnet's plus ``gate_predictor.*``. With ``layer_sizes`` (what static pruning's
export writes, ``encoder: e_branchformer_pruned``) the layers are the statically
pruned ones and only the modules each layer kept are gated: static + dynamic.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping, Optional, Sequence, Tuple

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from typeguard import typechecked

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.row_dispatch import keepalive
from espnet_dynprune.nets.encoder.e_branchformer_pruned import check_prunable_conf, use_pruned_layers
from espnet_dynprune.nets.encoder_steps import checkpointed, embed
from espnet_dynprune.nets.espnet_compat import make_pad_mask
from espnet_dynprune.nets.layers.dynprune_part import DynPrunePart
from espnet_dynprune.nets.layers.e_branchformer_dynprune_layer import (
    ATTN,
    CGMLP,
    FFN1,
    FFN2,
    MODULE_TYPES,
    layer_gated_forward,
    layer_module_types,
    module_gated_forward,
    unit_macs_per_frame,
)


class EBranchformerDynPruneEncoder(EBranchformerEncoder, DynPrunePart):
    """E-Branchformer encoder whose FFN1 / attention / cgMLP / FFN2 are gated.

    Layers built without the macaron FFN1 (``macaron_ffn: false``) or without
    feed-forward modules (``use_ffn: false``) gate the modules they have.

    Args:
        input_size: input feature dimension (as ESPnet's ``e_branchformer``).
        sparsity_target: fraction of gated modules to skip, in [0, 1).
        gate_predictor: ``context`` (speech + language + task, the paper),
            ``speech`` (I3D-style, speech only) or ``none`` (dense).
        gate_granularity: ``module`` (a gate per module a layer has) or ``layer`` (1).
        gate_hidden_size: hidden width of the gate predictor's MLP.
        gate_context_size: size of the language and the task embeddings.
        gumbel_tau_start, gumbel_tau_end, gumbel_anneal_steps: Gumbel-softmax
            temperature, annealed linearly over training updates.
        skip_rows_in_training: skip modules for real in training too (faster at
            high sparsity; skipped gates then get no task-loss gradient).
        context_dropout: in training, the probability of hiding an utterance's
            language, and independently its task, from the gate predictor, so it
            also learns to decide without them (language identification).
        layer_sizes: per-layer sizes of a statically pruned encoder (static + dynamic),
            as ``e_branchformer_pruned`` takes them; None: ESPnet's layers.
        **kwargs: every other ``e_branchformer`` key (``output_size``, ...).
    """

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
        context_dropout: float = 0.0,
        layer_sizes: Optional[Sequence[Mapping[str, Any]]] = None,
        **kwargs,
    ) -> None:
        if layer_sizes is not None:
            check_prunable_conf(kwargs, "e_branchformer_dynprune with layer_sizes")
        super().__init__(input_size, **kwargs)
        if layer_sizes is not None:
            self.layer_sizes = use_pruned_layers(self, layer_sizes, kwargs)
        self.layer_modules = tuple(layer_module_types(layer) for layer in self.encoders)
        self.module_types = tuple(m for m in MODULE_TYPES if any(m in modules for modules in self.layer_modules))
        self._init_gating(
            self.output_size(), len(self.encoders), sparsity_target, gate_predictor,
            gate_granularity, gate_hidden_size, gate_context_size, gumbel_tau_start,
            gumbel_tau_end, gumbel_anneal_steps, skip_rows_in_training, context_dropout,
        )

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

        Same arguments and outputs as ESPnet's ``EBranchformerEncoder.forward``,
        with its layer drop, InterCTC and gradient checkpointing.
        """
        if masks is None:
            masks = (~make_pad_mask(ilens)[:, None, :]).to(xs_pad.device)
        else:
            masks = ~masks[:, None, :]
        xs, masks = checkpointed(self, 0, embed, self, xs_pad, masks)
        x, pos_emb = xs if isinstance(xs, tuple) else (xs, None)

        language, task = self.encoder_context
        decision = self.gate_predictor(x, masks.squeeze(1), language, task)

        intermediate = []
        for i, layer in enumerate(self.encoders):
            if max_layer is not None and i >= max_layer:
                break
            if self.training and torch.empty(1).uniform_().item() < self.layer_drop_rate:
                x = keepalive(x, (layer,))  # ESPnet's layer drop; DDP still sees every parameter
                continue
            x = checkpointed(self, i + 1, self._gated_layer(i, decision), x, masks, pos_emb)
            if return_all_hs:
                intermediate.append(x)
            elif i + 1 in self.interctc_layer_idx:
                intermediate.append((i + 1, x))
                if self.interctc_use_conditioning:
                    x = x + self.conditioning_layer(ctc.softmax(x))
        x = self.after_norm(x)
        olens = masks.squeeze(1).sum(1)
        if intermediate:
            return (x, intermediate), olens, None
        return x, olens, None

    def _gated_layer(self, i: int, decision: GateDecision):
        layer = self.encoders[i]
        if self.gate_granularity == "layer":
            return partial(layer_gated_forward, layer, decision=decision, gate=i)
        return partial(module_gated_forward, layer, decision=decision,
                       gate_of=lambda m: self.gate_index(i, m))

    def unit_costs(self, decision: GateDecision, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Skipped flags and MACs of each layer's FFN1, attention, cgMLP, merge, FFN2 (those it has)."""
        values = decision.values.detach()
        skipped, costs = [], []
        for i, (layer, modules) in enumerate(zip(self.encoders, self.layer_modules)):
            macs = unit_macs_per_frame(layer, num_frames)
            kept = {m: values[:, self.gate_index(i, m)] for m in modules}
            branches = [kept[m] for m in (ATTN, CGMLP) if m in kept]
            if branches:
                kept["merge"] = 1.0 - torch.stack([1.0 - b for b in branches]).prod(0)
            for unit in (FFN1, ATTN, CGMLP, "merge", FFN2):
                if unit in kept:
                    skipped.append(1.0 - kept[unit])
                    costs.append(macs[unit] * num_frames)
        return torch.stack(skipped, dim=-1).cpu().double(), torch.tensor(costs, dtype=torch.float64)
