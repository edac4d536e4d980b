"""Whisper decoder with context-aware dynamic module pruning and cached keys/values.

Registered as ``decoder: whisper_dynprune`` (ASR and S2T tasks); every ``decoder_conf`` key of
ESPnet's ``whisper`` decoder keeps its meaning (``whisper_model`` may also be a checkpoint file,
as for ``whisper_local``), the gating keys are those of ``transformer_dynprune``, and the state
dict is ESPnet's plus ``gate_predictor.*``. The gates (self-attention, cross-attention and MLP of
each block, or one per block with ``gate_granularity: layer``) are decided once per utterance from
the time-averaged encoder output and Whisper's own prompt tokens after ``<|startoftranscript|>``:
the language (``<|fr|>``) and the task (``<|transcribe|>`` / ``<|translate|>``). A prompt without
them (an English-only model's, or language identification's) decides with the "not known" context.

ESPnet's Whisper decoder runs the whole prefix through every block, cross-attention projections
included, at each beam-search step. Here each utterance's cross-attention keys/values are projected
once and each block keeps its self-attention keys/values (:mod:`.gated_whisper_block`), so a step
computes the newest token only. With ``gate_predictor: none`` this is stock Whisper with that cache.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
from typeguard import typechecked

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.row_dispatch import take_rows
from espnet_dynprune.nets.context_vocabulary import MULTILINGUAL_VOCAB, ContextVocabulary, whisper_context_vocabulary
from espnet_dynprune.nets.decoder.state import UtteranceSource
from espnet_dynprune.nets.decoder.step_scorer import StepScorer
from espnet_dynprune.nets.decoder.whisper_local import LocalWhisperDecoder
from espnet_dynprune.nets.espnet_compat import make_pad_mask
from espnet_dynprune.nets.layers.dynprune_part import DynPrunePart
from espnet_dynprune.nets.layers.transformer_dynprune_layer import MODULE_TYPES, SRC_ATTN, Gates
from espnet_dynprune.nets.layers.whisper_dynprune_block import gated_block, project_cross, unit_macs_per_step

TYPICAL_PREFIX_LENGTH = 16  # tokens; only weights self-attention in the FLOPs-weighted sparsity


class WhisperDynPruneDecoder(StepScorer, LocalWhisperDecoder, DynPrunePart):
    """ESPnet's Whisper decoder whose self-attention / cross-attention / MLP are gated.

    Args:
        vocab_size, encoder_output_size, dropout_rate, whisper_model, download_dir,
        load_origin_token_embedding: as ESPnet's ``whisper`` decoder.
        sparsity_target, gate_predictor, gate_granularity, gate_hidden_size,
        gate_context_size, gumbel_tau_start, gumbel_tau_end, gumbel_anneal_steps,
        skip_rows_in_training, context_dropout: as for ``transformer_dynprune``.
    """

    module_types = MODULE_TYPES

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        dropout_rate: float = 0.0,
        whisper_model: str = "small",
        download_dir: Optional[str] = None,
        load_origin_token_embedding: bool = False,
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
    ) -> None:
        super().__init__(
            vocab_size, encoder_output_size, dropout_rate=dropout_rate, whisper_model=whisper_model,
            download_dir=download_dir, load_origin_token_embedding=load_origin_token_embedding,
        )
        self._init_gating(
            encoder_output_size, len(self.decoders.blocks), sparsity_target, gate_predictor,
            gate_granularity, gate_hidden_size, gate_context_size, gumbel_tau_start,
            gumbel_tau_end, gumbel_anneal_steps, skip_rows_in_training, context_dropout,
        )
        self.vocabulary: Optional[ContextVocabulary] = None
        if self.gate_predictor.needs_context:
            self.vocabulary = whisper_context_vocabulary(vocab_size)
            self.bind_context(self.vocabulary)
        self.multilingual = vocab_size >= MULTILINGUAL_VOCAB

    def _context_of(self, ys: torch.Tensor) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Language and task indices from the two tokens after ``<|startoftranscript|>``;
        (None, None), "not known", for a prompt without them."""
        if not self.gate_predictor.reads_context or self.vocabulary is None or not self.multilingual:
            return None, None
        start = (ys == self.vocabulary.sos_id).int().argmax(dim=1, keepdim=True)
        if ys.size(1) - 2 <= int(start.max()):
            return None, None
        return self.vocabulary.lookup(ys.gather(1, start + 1).squeeze(1), ys.gather(1, start + 2).squeeze(1))

    def _gates(self, layer: int) -> Gates:
        return tuple(self.gate_index(layer, m) for m in MODULE_TYPES)

    def prepare_source(
        self, memory: torch.Tensor, memory_mask: Optional[torch.Tensor], ys: torch.Tensor
    ) -> UtteranceSource:
        """Decide the gates of U utterances and project their cross-attention keys/values once.

        Args:
            memory: (U, T, D) encoder output.
            memory_mask: (U, 1, T) True on real frames (the gates average over them), or None.
            ys: (U, L) decoder input, the prompt included.
        """
        valid = None if memory_mask is None else memory_mask.squeeze(1)
        decision = self.gate_predictor(memory, valid, *self._context_of(ys))
        keys_values = []
        for i, block in enumerate(self.decoders.blocks):
            rows = decision.rows(self.gate_index(i, SRC_ATTN))
            keys_values.append(None if rows.nobody else project_cross(block, take_rows(rows, memory)))
        return UtteranceSource(decision, keys_values)

    def _embed(self, tokens: torch.Tensor, offset: int) -> torch.Tensor:
        positions = self.decoders.positional_embedding
        if offset + tokens.size(1) > positions.size(0):
            raise RuntimeError(
                f"the decoder input is {offset + tokens.size(1)} tokens long: "
                f"Whisper has {positions.size(0)} text positions"
            )
        x = self.decoders.token_embedding(tokens) + positions[offset : offset + tokens.size(1)]
        return self.dropout(x).to(positions.dtype)

    def _blocks(
        self, x: torch.Tensor, source: UtteranceSource, caches: List[Optional[torch.Tensor]]
    ) -> tuple[torch.Tensor, List[torch.Tensor]]:
        """Every block (ESPnet's dropout between them); the last output and each block's keys/values."""
        decision = source.decision_for(x.size(0))
        blocks = self.decoders.blocks
        new_caches = []
        for i, (block, cache) in enumerate(zip(blocks, caches)):
            x, keys_values = gated_block(
                block, x, self.decoders.mask, source.keys_values[i], decision, self._gates(i), cache
            )
            new_caches.append(keys_values)
            if i < len(blocks) - 1:
                x = self.dropout(x)
        return self.decoders.ln(x), new_caches

    def untie_output_projection(self) -> None:
        """Whisper projects onto the vocabulary with its token embedding's weight; this makes that
        projection a ``Linear`` of its own (the same weight), so that int8 conversion, which
        quantises ``Linear`` layers, covers the decoder's largest product too."""
        embedding = self.decoders.token_embedding
        projection = torch.nn.Linear(embedding.embedding_dim, embedding.num_embeddings, bias=False)
        projection.weight = embedding.weight
        self.output_projection = projection

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        projection = getattr(self, "output_projection", None)
        if projection is not None:
            return projection(x).float()
        return (x @ self.decoders.token_embedding.weight.to(x.dtype).t()).float()

    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced decoding; same arguments and outputs as ESPnet's (which reads neither length:
        ``hlens`` only tells the gates which frames to average, all when None)."""
        memory_mask = None
        if hlens is not None:
            memory_mask = (~make_pad_mask(hlens, maxlen=hs_pad.size(1)))[:, None, :].to(hs_pad.device)
        source = self.prepare_source(hs_pad, memory_mask, ys_in_pad)
        x, _ = self._blocks(self._embed(ys_in_pad, 0), source, [None] * len(self.decoders.blocks))
        return self._logits(x), ys_in_lens

    def step(
        self,
        tgt: torch.Tensor,
        tgt_mask: Optional[torch.Tensor],
        source: UtteranceSource,
        cache: Optional[List[torch.Tensor]] = None,
        return_hs: bool = False,
    ) -> Tuple[Any, List[torch.Tensor]]:
        """Log-probabilities of the next token of R = U x k prefixes ``tgt`` (R, L) over a prepared
        ``source``; with ``cache`` (each block's keys/values of the first L - 1 positions) only the
        newest token is computed. ``tgt_mask`` is not read: Whisper's mask is causal."""
        if cache is None:
            x, new_cache = self._blocks(self._embed(tgt, 0), source, [None] * len(self.decoders.blocks))
        else:
            x, new_cache = self._blocks(self._embed(tgt[:, -1:], tgt.size(1) - 1), source, cache)
        hidden = x[:, -1]
        logp = torch.log_softmax(self._logits(hidden), dim=-1)
        return ((logp, hidden) if return_hs else logp), new_cache

    def forward_one_step(
        self,
        tgt: torch.Tensor,
        tgt_mask: torch.Tensor,
        memory: torch.Tensor,
        *,
        cache: Optional[List[torch.Tensor]] = None,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """ESPnet's one-step API: decides and projects anew on every call (no state)."""
        return self.step(tgt, tgt_mask, self.prepare_source(memory, None, tgt), cache)

    def unit_costs(self, decision: GateDecision, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Skipped flags and per-step MACs of every gated module."""
        values = decision.values.detach()
        skipped, costs = [], []
        for i, block in enumerate(self.decoders.blocks):
            macs = unit_macs_per_step(block.attn.query.in_features, block.mlp[0].out_features,
                                      TYPICAL_PREFIX_LENGTH, num_frames)
            for module in MODULE_TYPES:
                skipped.append(1.0 - values[:, self.gate_index(i, module)])
                costs.append(macs[module])
        return torch.stack(skipped, dim=-1).cpu().double(), torch.tensor(costs, dtype=torch.float64)
