"""Per-utterance gate predictor: which modules of a network part to skip.

Context-aware dynamic pruning (ICLR 2025): the time average of the speech
features over the valid frames, concatenated with learned language and task
embeddings, goes through a small MLP that gives two logits (skip, keep) per gated
module. The I3D-style baseline (Peng et al., ICASSP 2023) uses the speech
features alone. All gates of a part are decided at once, before its first gated
layer, so the pattern is known up front and rows can be grouped by it.

The language or task may not be known yet: language identification reads the
model before any language is chosen. Each embedding has one extra row for
"not known" (index -1 in the inputs); ``context_dropout`` trains it by hiding
the language and the task of random utterances during training.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.forcing import ForceSpec, GateForcing
from espnet_dynprune.gating.gumbel import TemperatureSchedule, straight_through_gumbel
from espnet_dynprune.gating.update_counter import count_updates

PREDICTOR_KINDS = ("context", "speech", "none")
UNKNOWN = -1  # language / task index meaning "not known"


def masked_time_average(features: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """(B, T, D) -> (B, D) mean over valid frames only (padding excluded)."""
    if valid is None:
        return features.mean(dim=1)
    weights = valid.to(features.dtype).unsqueeze(-1)
    return (features * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class GatePredictor(torch.nn.Module):
    """Gate predictor for one network part (encoder or decoder).

    Args:
        input_size: feature dimension of the pooled speech features.
        gate_names: one name per gate, e.g. ``"layer0.ffn1"``.
        kind: ``context`` (speech + language + task), ``speech`` (speech only),
            or ``none`` (no predictor: dense unless a pattern is forced).
        hidden_size: width of the MLP's hidden layer.
        context_size: size of each of the language and task embeddings.
        init_keep_logit: initial keep-minus-skip logit, so fine-tuning starts
            from (mostly) the dense pretrained network.
        tau_start, tau_end, anneal_steps: Gumbel temperature schedule over
            optimiser updates of the predictor (not forward passes, so
            gradient accumulation does not speed it up).
        skip_rows_in_training: run modules on kept rows only in training too
            (faster; gates of skipped modules then get no task gradient).
        context_dropout: in training, the probability of hiding an utterance's
            language, and independently its task, from the predictor, so the
            "not known" embeddings learn to serve language identification.
    """

    def __init__(
        self,
        input_size: int,
        gate_names: Sequence[str],
        kind: str = "context",
        hidden_size: int = 256,
        context_size: int = 64,
        init_keep_logit: float = 3.0,
        tau_start: float = 1.0,
        tau_end: float = 0.1,
        anneal_steps: int = 10000,
        skip_rows_in_training: bool = False,
        context_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kind not in PREDICTOR_KINDS:
            raise ValueError(f"gate_predictor {kind!r} is not one of {PREDICTOR_KINDS}")
        if not 0.0 <= context_dropout < 1.0:
            raise ValueError(f"context_dropout must be in [0, 1), got {context_dropout!r}")
        self.context_dropout = context_dropout
        self._warned_untrained_unknown = False
        self.kind = kind
        self.gate_names = tuple(gate_names)
        self.context_size = context_size
        self.schedule = TemperatureSchedule(tau_start, tau_end, anneal_steps)
        self.skip_rows_in_training = skip_rows_in_training
        self.forcing: Optional[GateForcing] = None
        self.last_decision: Optional[GateDecision] = None
        # (B, G) keep minus skip logit of the latest decision made from logits (None: forced or no
        # predictor); how far each decision is from flipping, for analysis
        self.last_margins: Optional[torch.Tensor] = None
        self.language_embed: Optional[torch.nn.Embedding] = None
        self.task_embed: Optional[torch.nn.Embedding] = None
        if kind == "none":
            self.mlp = None
            return
        in_size = input_size + (2 * context_size if kind == "context" else 0)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(in_size, hidden_size),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden_size, 2 * self.num_gates),
        )
        with torch.no_grad():
            self.mlp[-1].weight.mul_(0.1)
            self.mlp[-1].bias.view(self.num_gates, 2).copy_(
                torch.tensor([0.0, init_keep_logit])
            )
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        count_updates(self, _count_update)

    @property
    def num_gates(self) -> int:
        return len(self.gate_names)

    @property
    def needs_context(self) -> bool:
        return self.kind == "context"

    @property
    def reads_context(self) -> bool:
        """Whether the next forward embeds the language and task (a forced
        pattern that needs no ranking decides without them)."""
        if not self.needs_context:
            return False
        return self.training or self.forcing is None or self.forcing.needs_scores

    def bind_context(self, num_languages: int, num_tasks: int) -> None:
        """Create the language and task embeddings once the vocabulary is known.

        The token list reaches ESPnet's model, not its encoder or decoder, so the
        model calls this right after it is built (before weights are loaded).
        Each gets one more row, the last, for "not known".
        """
        if not self.needs_context:
            return
        if num_languages < 1 or num_tasks < 1:
            raise ValueError(
                f"gate_predictor: context needs language and task symbols in the token "
                f"list, found {num_languages} languages and {num_tasks} tasks"
            )
        self.language_embed = torch.nn.Embedding(num_languages + 1, self.context_size)
        self.task_embed = torch.nn.Embedding(num_tasks + 1, self.context_size)
        device = self.mlp[0].weight.device
        self.language_embed.to(device)
        self.task_embed.to(device)

    def force(self, spec: ForceSpec) -> None:
        """Force a pattern at inference ("on", "off", a mask, a sparsity); None resets."""
        self.forcing = self.forcing_for(spec)

    def forcing_for(self, spec: ForceSpec) -> Optional[GateForcing]:
        """``spec`` checked against this predictor's gates (raises), not applied yet."""
        return None if spec is None else GateForcing(spec, self.num_gates)

    def temperature(self) -> float:
        return self.schedule(int(self.num_updates))

    def logits(
        self,
        features: torch.Tensor,
        valid: Optional[torch.Tensor],
        language: Optional[torch.Tensor],
        task: Optional[torch.Tensor],
    ) -> torch.Tensor:
        """(B, G, 2) skip/keep logits."""
        pooled = masked_time_average(features, valid)
        if self.needs_context:
            if self.language_embed is None:
                raise RuntimeError(
                    "gate_predictor: context has no language/task vocabulary; "
                    "`model: dynprune` binds it from the token list"
                )
            rows = (self._embedding_rows(language, self.language_embed, pooled),
                    self._embedding_rows(task, self.task_embed, pooled))
            pooled = torch.cat(
                [pooled, self.language_embed(rows[0]), self.task_embed(rows[1])], dim=-1
            )
        return self.mlp(pooled).view(-1, self.num_gates, 2)

    def _embedding_rows(
        self, index: Optional[torch.Tensor], embed: torch.nn.Embedding, pooled: torch.Tensor
    ) -> torch.Tensor:
        """(B,) rows of ``embed``: the given indices, the last row where not known."""
        unknown = embed.num_embeddings - 1
        if index is None:
            self._warn_if_untrained()
            return torch.full((pooled.size(0),), unknown, dtype=torch.long, device=pooled.device)
        if self.training and self.context_dropout > 0:
            hidden = torch.rand(index.shape, device=index.device) < self.context_dropout
            index = index.masked_fill(hidden, UNKNOWN)
        return torch.where(index == UNKNOWN, torch.full_like(index, unknown), index)

    def _warn_if_untrained(self) -> None:
        """Say once that deciding without a language uses an embedding training never saw."""
        if self.training or self.context_dropout > 0 or self._warned_untrained_unknown:
            return
        self._warned_untrained_unknown = True
        logging.warning(
            "gate_predictor: the language or task is not known, and this model was trained with "
            "context_dropout: 0, so its \"not known\" embedding is untrained; train with "
            "context_dropout > 0 to decide gates without them"
        )

    def forward(
        self,
        features: torch.Tensor,
        valid: Optional[torch.Tensor] = None,
        language: Optional[torch.Tensor] = None,
        task: Optional[torch.Tensor] = None,
    ) -> GateDecision:
        """Decide every gate of the part for each utterance of the batch.

        Args:
            features: (B, T, D) speech features entering the part.
            valid: (B, T) bool, True on real (non-padding) frames.
            language, task: (B,) embedding indices (``context`` predictor only);
                None or -1 where not known.
        """
        batch = features.size(0)
        skip_rows = self.skip_rows_in_training or not self.training
        self.last_margins = None
        if self.forcing is not None and not self.training:
            scores = None
            if self.forcing.needs_scores and self.mlp is not None:
                logits = self.logits(features, valid, language, task)
                scores = logits[..., 1] - logits[..., 0]
            values = self.forcing.keep(batch, features.device, scores)
        elif self.mlp is None:
            values = features.new_ones(batch, self.num_gates)
        else:
            logits = self.logits(features, valid, language, task)
            values = straight_through_gumbel(logits, self.temperature(), noise=self.training)
            self.last_margins = (logits[..., 1] - logits[..., 0]).detach()
        self.last_decision = GateDecision(values, self.gate_names, skip_rows, features.size(1))
        return self.last_decision


def _count_update(predictor: GatePredictor) -> None:
    predictor.num_updates += 1
