"""What the dynamically pruned encoder and decoder share: their gates.

A gated part owns one ``gate_predictor`` (the only parameters it adds to the
stock ESPnet module, so released OWSM weights load unchanged), its sparsity
target, the forcing API and the statistics the model reports.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.forcing import ForceSpec
from espnet_dynprune.gating.gate_predictor import GatePredictor
from espnet_dynprune.gating.sparsity import check_sparsity_target, cost_weighted_sparsity
from espnet_dynprune.nets.context_vocabulary import ContextVocabulary

GRANULARITIES = ("module", "layer")


class DynPrunePart:
    """Mixin for an ESPnet encoder or decoder with per-utterance module gates.

    Subclasses set ``module_types`` (gate names within a layer, for
    ``gate_granularity: module``; before ``_init_gating``) and implement ``unit_costs``.
    Layers that differ (a statically pruned encoder: some modules are gone) also set
    ``layer_modules``, the gated modules of each layer; ``module_types`` is then their union.
    """

    module_types: tuple[str, ...] = ()
    layer_modules: Optional[tuple[tuple[str, ...], ...]] = None
    gate_predictor: GatePredictor
    _context: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    def _init_gating(
        self,
        input_size: int,
        num_layers: int,
        sparsity_target: float,
        gate_predictor: str,
        gate_granularity: str,
        gate_hidden_size: int,
        gate_context_size: int,
        gumbel_tau_start: float,
        gumbel_tau_end: float,
        gumbel_anneal_steps: int,
        skip_rows_in_training: bool,
        context_dropout: float,
    ) -> None:
        if gate_granularity not in GRANULARITIES:
            raise ValueError(f"gate_granularity {gate_granularity!r} is not one of {GRANULARITIES}")
        self.sparsity_target = check_sparsity_target(sparsity_target)
        self.gate_granularity = gate_granularity
        self.num_gated_layers = num_layers
        self.layer_modules = tuple(self.layer_modules or (self.module_types,) * num_layers)
        modules = [(i, m) for i, layer in enumerate(self.layer_modules) for m in layer]
        self._columns = {key: column for column, key in enumerate(modules)}  # (layer, module) -> gate, per module
        if gate_granularity == "layer":
            names = [f"layer{i}" for i in range(num_layers)]
        else:
            names = [f"layer{i}.{m}" for i, m in modules]
        self.gate_predictor = GatePredictor(
            input_size,
            names,
            kind=gate_predictor,
            hidden_size=gate_hidden_size,
            context_size=gate_context_size,
            tau_start=gumbel_tau_start,
            tau_end=gumbel_tau_end,
            anneal_steps=gumbel_anneal_steps,
            skip_rows_in_training=skip_rows_in_training,
            context_dropout=context_dropout,
        )

    @property
    def is_pruned(self) -> bool:
        """True when a predictor decides the gates (``gate_predictor`` is not none)."""
        return self.gate_predictor.kind != "none"

    def gate_index(self, layer: int, module: str) -> int:
        """Column of the gate controlling ``module`` of ``layer``."""
        if self.gate_granularity == "layer":
            return layer
        return self._columns[(layer, module)]

    def bind_context(self, vocabulary: ContextVocabulary) -> None:
        """Size the language/task embeddings from the model's token list."""
        self.gate_predictor.bind_context(len(vocabulary.languages), len(vocabulary.tasks))

    @contextmanager
    def context(self, language: torch.Tensor, task: torch.Tensor) -> Iterator[None]:
        """Language/task embedding indices (B,) for the forward passes inside.

        An encoder cannot read them from a prompt, and ESPnet's models call ``encoder(feats, lens)``
        with no context argument, so a model sets them around its call instead. Outside, the gate
        predictor decides with its "not known" context.
        """
        self._context = (language, task)
        try:
            yield
        finally:
            self._context = None

    @property
    def encoder_context(self) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The (language, task) that :meth:`context` set, or (None, None): "not known"."""
        return self._context if self._context is not None else (None, None)

    def force_gates(self, spec: ForceSpec) -> None:
        """Force a gate pattern at inference.

        Args:
            spec: ``"on"`` (dense), ``"off"`` (skip all gated modules), a float
                sparsity (skip the modules the predictor ranks lowest), a (G,)
                or (B, G) keep mask, or None to use the predictor again.
        """
        self.gate_predictor.force(spec)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return self.gate_predictor.gate_names

    @property
    def last_gates(self) -> Optional[GateDecision]:
        """Decisions of the latest forward: ``.keep`` is (B, G) bool, ``.names`` the gates."""
        return self.gate_predictor.last_decision

    def unit_costs(self, decision: GateDecision, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(skipped (B, N), costs (N,)): units of gateable work and their MACs."""
        raise NotImplementedError

    def sparsity_stats(self, prefix: str, decision: Optional[GateDecision] = None) -> dict[str, torch.Tensor]:
        """Realised sparsity (plain and compute-weighted) and keep rate per module type, of
        ``decision`` (default: the last one)."""
        decision = decision if decision is not None else self.last_gates
        if decision is None:
            return {}
        keep = decision.keep.float()
        stats = {f"{prefix}_sparsity": 1.0 - keep.mean()}
        skipped, costs = self.unit_costs(decision, decision.num_frames)
        stats[f"{prefix}_sparsity_flops"] = cost_weighted_sparsity(skipped, costs)
        if self.gate_granularity == "module":
            for name in self.module_types:
                columns = [c for (_, m), c in self._columns.items() if m == name]
                stats[f"{prefix}_keep_{name}"] = keep[:, columns].mean()
        return stats
