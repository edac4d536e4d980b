"""Whisper encoder with context-aware dynamic module pruning.

Registered as ``encoder: whisper_dynprune`` (ASR and S2T tasks); every ``encoder_conf`` key of
ESPnet's ``whisper`` encoder keeps its meaning (``whisper_model`` may also be a checkpoint file, as
for ``whisper_local``: log-mel front end, SpecAug, padding to 30 s, dropout), the gating keys are
those of ``e_branchformer_dynprune``, and the state dict is ESPnet's plus ``gate_predictor.*``.
The gates (self-attention and MLP of each block, or one per block with ``gate_granularity: layer``)
are decided once per utterance from the time-averaged input of the first block (after Whisper's
convolutions and positional embedding; padded frames left out) and, with ``gate_predictor:
context``, the language and task a model sets with :meth:`context` (indices in openai-whisper's
language order, 0 transcribe / 1 translate; "not known" when none is set, as under ESPnet's own
ASR model). Self-attention runs in torch's ``scaled_dot_product_attention``; with
``gate_predictor: none`` this is stock Whisper's encoder up to float rounding.
"""

from __future__ import annotations

from typing import Optional

import torch
from typeguard import typechecked

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.context_vocabulary import TASKS
from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder, blocks_run_by
from espnet_dynprune.nets.layers.dynprune_part import DynPrunePart
from espnet_dynprune.nets.layers.transformer_dynprune_layer import FFN, SELF_ATTN
from espnet_dynprune.nets.layers.whisper_dynprune_block import encoder_unit_macs_per_frame, gated_encoder_block

MODULE_TYPES = (SELF_ATTN, FFN)


class WhisperDynPruneEncoder(LocalWhisperEncoder, DynPrunePart):
    """ESPnet's Whisper encoder whose self-attention / MLP are gated.

    Args:
        input_size, dropout_rate, whisper_model, download_dir, use_specaug, specaug_conf,
        do_pad_trim: as ESPnet's ``whisper`` encoder.
        sparsity_target, gate_predictor, gate_granularity, gate_hidden_size,
        gate_context_size, gumbel_tau_start, gumbel_tau_end, gumbel_anneal_steps,
        skip_rows_in_training, context_dropout: as for ``e_branchformer_dynprune``.
    """

    module_types = MODULE_TYPES

    @typechecked
    def __init__(
        self,
        input_size: int = 1,
        dropout_rate: float = 0.0,
        whisper_model: str = "small",
        download_dir: Optional[str] = None,
        use_specaug: bool = False,
        specaug_conf: Optional[dict] = None,
        do_pad_trim: bool = False,
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
        from whisper.tokenizer import LANGUAGES

        super().__init__(
            input_size=input_size, dropout_rate=dropout_rate, whisper_model=whisper_model,
            download_dir=download_dir, use_specaug=use_specaug, specaug_conf=specaug_conf,
            do_pad_trim=do_pad_trim,
        )
        self._init_gating(
            self.output_size(), len(self.encoders.blocks), sparsity_target, gate_predictor,
            gate_granularity, gate_hidden_size, gate_context_size, gumbel_tau_start,
            gumbel_tau_end, gumbel_anneal_steps, skip_rows_in_training, context_dropout,
        )
        self.gate_predictor.bind_context(len(LANGUAGES), len(TASKS))  # Whisper's, whatever the token list

    def whisper_encode(self, input: torch.Tensor, ilens: Optional[torch.Tensor] = None):
        """ESPnet's ``whisper_encode`` (convolutions, positional embedding, dropout, final norm),
        its blocks gated: the first block's input decides the gates, ``ilens`` (mel frames) tell the
        gates which frames are real."""
        valid_frames = None
        if ilens is not None:  # frames after conv2 (conv1 keeps the length), at most the positions
            conv = self.encoders.conv2
            frames = (ilens + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1
            valid_frames = frames.clamp(max=self.encoders.positional_embedding.size(0))
        decision: Optional[GateDecision] = None

        def run(i: int, block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
            nonlocal decision
            if decision is None:
                valid = None
                if valid_frames is not None:
                    valid = torch.arange(x.size(1), device=x.device)[None, :] < valid_frames[:, None].to(x.device)
                decision = self.gate_predictor(x, valid, *self.encoder_context)
            return gated_encoder_block(block, x, decision, (self.gate_index(i, SELF_ATTN), self.gate_index(i, FFN)))

        with blocks_run_by(self, run):
            return super().whisper_encode(input, ilens)

    def unit_costs(self, decision: GateDecision, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Skipped flags and MACs of every gated module."""
        values = decision.values.detach()
        skipped, costs = [], []
        for i, block in enumerate(self.encoders.blocks):
            macs = encoder_unit_macs_per_frame(block.attn.query.in_features, block.mlp[0].out_features, num_frames)
            for module in MODULE_TYPES:
                skipped.append(1.0 - values[:, self.gate_index(i, module)])
                costs.append(macs[module] * num_frames)
        return torch.stack(skipped, dim=-1).cpu().double(), torch.tensor(costs, dtype=torch.float64)
