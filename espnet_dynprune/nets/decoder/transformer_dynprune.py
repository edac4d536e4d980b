"""Transformer decoder with context-aware dynamic module pruning.

Registered as ``decoder: transformer_dynprune``; every ``decoder_conf`` key of
ESPnet's ``transformer`` keeps its meaning, and the state dict is ESPnet's plus
``gate_predictor.*``. The gates of all layers are decided once from the
time-averaged encoder output and the ``<lang><task>`` symbols that follow
``<sos>`` in the decoder input (OWSM's prompt), so training, ``score`` and
``batch_score`` (ESPnet beam search) all see the same context. With
``layer_sizes`` (what static pruning's export writes, ``decoder: transformer_pruned``)
the layers are the statically pruned ones and only the modules each layer kept are
gated: static + dynamic. A prompt that
stops at ``<sos>`` (ESPnet's ``Speech2Language`` scores that one step) decides
with the predictor's "not known" context.

In beam search the decision and each layer's source-attention keys/values are
made once per utterance, at the first step, and travel in the hypotheses'
states (``HypothesisState``); every later step reuses them. With
``gate_predictor: none`` this is a dense Transformer decoder with that cache.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from typeguard import typechecked

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.row_dispatch import take_rows
from espnet_dynprune.nets.context_vocabulary import ContextVocabulary
from espnet_dynprune.nets.decoder.outputs import step_outputs, teacher_forced_outputs
from espnet_dynprune.nets.decoder.state import UtteranceSource
from espnet_dynprune.nets.decoder.step_scorer import StepScorer
from espnet_dynprune.nets.decoder.transformer_pruned import check_prunable_decoder_conf, use_pruned_decoder_layers
from espnet_dynprune.nets.encoder_steps import checkpointed
from espnet_dynprune.nets.espnet_compat import make_pad_mask, subsequent_mask
from espnet_dynprune.nets.layers.dynprune_part import DynPrunePart
from espnet_dynprune.nets.layers.source_attention import project_source
from espnet_dynprune.nets.layers.transformer_dynprune_layer import (
    MODULE_TYPES,
    SRC_ATTN,
    Gates,
    decoder_module_types,
    gated_forward,
    unit_macs_per_step,
)

TYPICAL_PREFIX_LENGTH = 16  # tokens; only weights self-attention in the FLOPs-weighted sparsity


class TransformerDynPruneDecoder(StepScorer, TransformerDecoder, DynPrunePart):
    """Transformer decoder whose self-attention / source attention / FFN are gated.

    Args:
        vocab_size, encoder_output_size: as ESPnet's ``transformer`` decoder.
        sparsity_target, gate_predictor, gate_granularity, gate_hidden_size,
        gate_context_size, gumbel_tau_start, gumbel_tau_end, gumbel_anneal_steps,
        skip_rows_in_training, context_dropout: as for ``e_branchformer_dynprune``.
        layer_sizes: per-layer sizes of a statically pruned decoder (static + dynamic),
            as ``transformer_pruned`` takes them; None: ESPnet's layers.
        **kwargs: every other ``transformer`` decoder key; ``layer_drop_rate`` has
            no effect, as in ESPnet's own decoder (its forward never applies it).
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
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
            check_prunable_decoder_conf(kwargs, "transformer_dynprune with layer_sizes")
        for key, ok in (("normalize_before", True), ("concat_after", False)):
            if kwargs.get(key, ok) != ok:
                raise ValueError(
                    f"decoder_conf {key}: {kwargs[key]!r} is not supported by transformer_dynprune "
                    f"(only {key}: {ok}, OWSM's layout, makes a skipped module the identity)"
                )
        super().__init__(vocab_size, encoder_output_size, **kwargs)
        if layer_sizes is not None:
            self.layer_sizes = use_pruned_decoder_layers(self, layer_sizes, kwargs)
        self.layer_modules = tuple(decoder_module_types(layer) for layer in self.decoders)
        self.module_types = tuple(m for m in MODULE_TYPES if any(m in modules for modules in self.layer_modules))
        self._init_gating(
            encoder_output_size, len(self.decoders), sparsity_target, gate_predictor,
            gate_granularity, gate_hidden_size, gate_context_size, gumbel_tau_start,
            gumbel_tau_end, gumbel_anneal_steps, skip_rows_in_training, context_dropout,
        )
        self.vocabulary: Optional[ContextVocabulary] = None

    def bind_context(self, vocabulary: ContextVocabulary) -> None:
        """Learn where the context symbols sit: token tables and the ``<sos>`` id."""
        DynPrunePart.bind_context(self, vocabulary)
        self.vocabulary = vocabulary

    def _context_of(self, ys: torch.Tensor) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Language and task indices read from the tokens after ``<sos>``.

        (None, None), "not known", when the predictor does not read them or the
        prompt ends at ``<sos>`` (language identification).
        """
        if not self.gate_predictor.reads_context or self.vocabulary is None:
            return None, None
        start = (ys == self.vocabulary.sos_id).int().argmax(dim=1, keepdim=True)
        if ys.size(1) - 1 <= int(start.max()):
            return None, None
        if ys.size(1) - 2 <= int(start.max()):
            raise ValueError("decoder input has a <lang> but no <task> after <sos>")
        return self.vocabulary.lookup(ys.gather(1, start + 1).squeeze(1), ys.gather(1, start + 2).squeeze(1))

    def _gates(self, layer: int) -> Gates:
        modules = self.layer_modules[layer]
        return tuple(self.gate_index(layer, m) if m in modules else None for m in MODULE_TYPES)

    def prepare_source(
        self, memory: torch.Tensor, memory_mask: Optional[torch.Tensor], ys: torch.Tensor
    ) -> UtteranceSource:
        """Decide the gates of U utterances and project their source keys/values once.

        Args:
            memory: (U, T, D) encoder output.
            memory_mask: (U, 1, T) True on real frames, or None.
            ys: (U, L) decoder input, ``<sos><lang><task>`` included.
        """
        valid = None if memory_mask is None else memory_mask.squeeze(1)
        language, task = self._context_of(ys)
        decision = self.gate_predictor(memory, valid, language, task)
        keys_values = []
        for i, layer in enumerate(self.decoders):
            if SRC_ATTN not in self.layer_modules[i]:
                keys_values.append(None)
                continue
            rows = decision.rows(self.gate_index(i, SRC_ATTN))
            if rows.nobody:
                keys_values.append(None)
                continue
            keys_values.append(
                project_source(layer.src_attn, take_rows(rows, memory), take_rows(rows, memory_mask))
            )
        return UtteranceSource(decision, keys_values)

    def _layers(
        self,
        x: torch.Tensor,
        tgt_mask: Optional[torch.Tensor],
        source: UtteranceSource,
        caches: List[Optional[torch.Tensor]],
    ) -> tuple[torch.Tensor, List[torch.Tensor]]:
        """Run every layer; returns the last output and the per-layer outputs."""
        decision = source.decision_for(x.size(0))
        outputs = []
        for i, (layer, cache) in enumerate(zip(self.decoders, caches)):
            x = checkpointed(self, i + 1, gated_forward, layer, x, tgt_mask, source.keys_values[i], decision,
                             self._gates(i), cache)
            outputs.append(x)
        return x, outputs

    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
        return_hs: bool = False,
        return_all_hs: bool = False,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced decoding; same arguments and outputs as ESPnet's."""
        tgt_mask = (~make_pad_mask(ys_in_lens)[:, None, :]).to(ys_in_pad.device)
        tgt_mask = tgt_mask & subsequent_mask(tgt_mask.size(-1), device=tgt_mask.device)[None]
        memory_mask = (~make_pad_mask(hlens, maxlen=hs_pad.size(1)))[:, None, :].to(hs_pad.device)
        source = self.prepare_source(hs_pad, memory_mask, ys_in_pad)
        x, outputs = self._layers(
            self.embed(ys_in_pad), tgt_mask, source, [None] * len(self.decoders)
        )
        return teacher_forced_outputs(self, x, outputs, tgt_mask.sum(1), return_hs, return_all_hs)

    def step(
        self,
        tgt: torch.Tensor,
        tgt_mask: torch.Tensor,
        source: UtteranceSource,
        cache: Optional[List[torch.Tensor]] = None,
        return_hs: bool = False,
    ) -> Tuple[Any, List[torch.Tensor]]:
        """One incremental step of R = U x k hypotheses over a prepared ``source``."""
        caches = cache if cache is not None else [None] * len(self.decoders)
        x, new_cache = self._layers(self.embed(tgt), tgt_mask, source, caches)
        return step_outputs(self, x[:, -1], new_cache, return_hs)

    def forward_one_step(
        self,
        tgt: torch.Tensor,
        tgt_mask: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor = None,
        *,
        cache: List[torch.Tensor] = None,
        return_hs: bool = False,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """ESPnet's one-step API: decides and projects anew on every call (no state)."""
        source = self.prepare_source(memory, memory_mask, tgt)
        return self.step(tgt, tgt_mask, source, cache, return_hs)

    def unit_costs(self, decision: GateDecision, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Skipped flags and per-step MACs of the modules each layer has."""
        values = decision.values.detach()
        skipped, costs = [], []
        for i, layer in enumerate(self.decoders):
            for module, macs in unit_macs_per_step(layer, TYPICAL_PREFIX_LENGTH, num_frames).items():
                skipped.append(1.0 - values[:, self.gate_index(i, module)])
                costs.append(macs)
        return torch.stack(skipped, dim=-1).cpu().double(), torch.tensor(costs, dtype=torch.float64)
