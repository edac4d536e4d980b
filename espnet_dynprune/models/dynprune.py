"""ESPnet models whose encoder and decoder prune themselves per utterance (``model: dynprune``).

:class:`DynPruneS2TModel` is ESPnet's ``ESPnetS2TModel`` (OWSM) and :class:`DynPruneASRModel`
ESPnet's ``ESPnetASRModel`` (Whisper in ESPnet) plus three things, shared in :class:`DynPrune`:
each utterance's language and task, read from the first two target tokens (OWSM's ``<lang><task>``
prefix, Whisper's ``<|fr|><|translate|>`` prompt), go to the encoder's gate predictor (the decoder
reads them from its own input) when a context-aware predictor needs them;
``sparsity_loss_weight * (realised - target)^2`` for every pruned part joins the loss; the
realised sparsity goes to ESPnet's logs.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Callable, Dict, Iterator, Optional, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.s2t.espnet_model import ESPnetS2TModel
from typeguard import typechecked

from espnet_dynprune.gating.sparsity import sparsity_loss
from espnet_dynprune.nets.context_vocabulary import SOT, ContextVocabulary, whisper_context_vocabulary
from espnet_dynprune.nets.layers.dynprune_part import DynPrunePart


class DynPrune:
    """An ESPnet model (S2T or ASR, the next class in the MRO) with context-aware dynamic pruning.

    Args:
        sparsity_loss_weight: weight of each pruned part's squared sparsity loss. The
            default is 10 because ESPnet's attention loss is summed over the tokens of an
            utterance (tens of nats): with weight 1 the decoder gates of a small model stayed
            dense (realised 0.0 for target 0.3) while weight 10 reached 0.30 in 2 epochs.
        *args, **kwargs: everything the ESPnet model takes (``model_conf`` keys
            such as ``ctc_weight``, ``lsm_weight``, ``sym_sos``, ``sym_na``).
    """

    @typechecked
    def __init__(self, *args, sparsity_loss_weight: float = 10.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if sparsity_loss_weight < 0:
            raise ValueError(f"model_conf sparsity_loss_weight must be >= 0, got {sparsity_loss_weight}")
        self.sparsity_loss_weight = sparsity_loss_weight
        self.context_vocabulary = self._context_vocabulary(self.token_list[self.sos])
        for part in self.gated_parts().values():
            part.bind_context(self.context_vocabulary)
        self._inference_context = None

    def _context_vocabulary(self, sos_symbol: str) -> ContextVocabulary:
        """Where the language and task symbols are: Whisper's prompt tokens, or OWSM's layout."""
        if sos_symbol == SOT:
            return whisper_context_vocabulary(len(self.token_list))
        return ContextVocabulary(self.token_list, sos_symbol)

    def gated_parts(self) -> Dict[str, DynPrunePart]:
        """The encoder and/or decoder that have gates, by name."""
        parts = {"encoder": self.encoder, "decoder": self.decoder}
        return {name: p for name, p in parts.items() if isinstance(p, DynPrunePart)}

    def force_gates(self, spec, part: str = "all") -> None:
        """Force a gate pattern at inference on ``encoder``, ``decoder`` or ``all``.

        ``spec`` is ``"on"``, ``"off"``, a float sparsity, a keep mask, or None
        (see ``DynPrunePart.force_gates``). It is checked against every chosen part
        before any is forced, so a bad spec leaves the model as it was.
        """
        parts = self.gated_parts()
        if part != "all" and part not in parts:
            raise ValueError(f"no gated part {part!r}; gated parts: {sorted(parts)}")
        chosen = {name: p for name, p in parts.items() if part in ("all", name)}
        forcings = {}
        for name, p in chosen.items():
            try:
                forcings[name] = p.gate_predictor.forcing_for(spec)
            except (TypeError, ValueError) as error:
                raise type(error)(f"cannot force the {name}'s {p.gate_predictor.num_gates} gates: {error}") from error
        for name, p in chosen.items():
            p.gate_predictor.forcing = forcings[name]

    def last_gates(self) -> Dict[str, dict]:
        """Per part, per gate: keep flags of each utterance in the latest forward."""
        return {
            name: p.last_gates.as_dict()
            for name, p in self.gated_parts().items()
            if p.last_gates is not None
        }

    @contextmanager
    def inference_context(self, language: Optional[str], task: Optional[str]) -> Iterator[None]:
        """Use ``<lang>``/``<task>`` symbols for ``encode`` calls inside (inference).

        None for both: the language is not known yet (language identification);
        the encoder then decides with its "not known" context.
        """
        if (language is None) != (task is None):
            raise ValueError(f"give both a language and a task symbol or neither, got {language!r}, {task!r}")
        previous = self._inference_context
        if language is not None:
            self._inference_context = self.context_vocabulary.symbol_indices(language, task)
        try:
            yield
        finally:
            self._inference_context = previous

    def _encoder_reads_context(self) -> bool:
        return isinstance(self.encoder, DynPrunePart) and self.encoder.gate_predictor.reads_context

    def encode(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """ESPnet's encode; inside ``inference_context`` the encoder gets its symbols."""
        if self._inference_context is None or not self._encoder_reads_context():
            return super().encode(speech, speech_lengths)
        batch = speech.size(0)
        language, task = (
            torch.full((batch,), i, dtype=torch.long, device=speech.device)
            for i in self._inference_context
        )
        with self.encoder.context(language, task):
            return super().encode(speech, speech_lengths)

    def _pruned_forward(self, text: torch.Tensor, espnet_forward: Callable[[], tuple]) -> tuple:
        """``espnet_forward()`` (the ESPnet model's loss) under the encoder's context read from
        ``text``, plus the sparsity losses."""
        encoder_context, unknown = nullcontext(), None
        if self._encoder_reads_context():
            language, task = self._context_of_text(text)
            unknown = (language < 0) | (task < 0)
            encoder_context = self.encoder.context(language, task)
        with encoder_context:
            loss, stats, weight = espnet_forward()
        if unknown is not None:  # utterances whose target names no language/task (e.g. <na>), per batch
            stats["context_unknown"] = unknown.sum().to(loss.dtype)
        total_sparsity_loss = loss.new_zeros(())
        for name, part in self.gated_parts().items():
            stats.update(part.sparsity_stats(name[:3]))
            if part.is_pruned and part.last_gates is not None:
                realised = part.last_gates.realised_sparsity()
                total_sparsity_loss = total_sparsity_loss + sparsity_loss(realised, part.sparsity_target)
        if self.gated_parts():
            loss = loss + self.sparsity_loss_weight * total_sparsity_loss
            stats["loss_sparsity"] = total_sparsity_loss.detach()
            stats["loss"] = loss.detach()
        return loss, stats, weight

    def _context_of_text(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedding indices of ``text[:, 0]`` (language) and ``text[:, 1]`` (task)."""
        if text.size(1) < 2:
            raise ValueError("targets must start with a language and a task symbol; got fewer than 2 tokens")
        return self.context_vocabulary.lookup(text[:, 0], text[:, 1])


class DynPruneS2TModel(DynPrune, ESPnetS2TModel):
    """``model: dynprune`` of the S2T task (OWSM): ``text`` starts with ``<lang><task>`` (else "not known")."""

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        text_prev: torch.Tensor,
        text_prev_lengths: torch.Tensor,
        text_ctc: torch.Tensor,
        text_ctc_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        return self._pruned_forward(text, lambda: ESPnetS2TModel.forward(
            self, speech, speech_lengths, text, text_lengths, text_prev, text_prev_lengths, text_ctc,
            text_ctc_lengths, **kwargs,
        ))  # fmt: skip


class DynPruneASRModel(DynPrune, ESPnetASRModel):
    """``model: dynprune`` of the ASR task (Whisper in ESPnet): ESPnet's Whisper tokenizer starts
    ``text`` with the prompt's ``<|lang|><|task|>`` (per utterance with asr_train's
    ``use_lang_prompt`` and a ``prompt`` data file; an English-only Whisper has none: use a
    speech-only or no encoder predictor)."""

    def forward(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, text: torch.Tensor, text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:  # fmt: skip
        return self._pruned_forward(
            text, lambda: ESPnetASRModel.forward(self, speech, speech_lengths, text, text_lengths, **kwargs)
        )
