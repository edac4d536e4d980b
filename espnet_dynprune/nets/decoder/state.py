"""What the dynprune decoder keeps between beam-search steps.

Per utterance (shared by reference by all its hypotheses): the gate decision
and every layer's projected source keys/values, computed at the first step.
Per hypothesis: each layer's outputs at the previous positions, as in ESPnet.
The gate predictor therefore runs once per utterance, not once per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.layers.source_attention import SourceKeysValues


@dataclass
class UtteranceSource:
    """Gate decision and source keys/values of U utterances.

    ``keys_values[i]`` covers only the utterances that keep layer i's source
    attention (in batch order), or is None when none does.
    """

    decision: GateDecision
    keys_values: List[Optional[SourceKeysValues]]
    _per_hypothesis: dict = field(default_factory=dict)

    @property
    def num_utterances(self) -> int:
        return self.decision.batch_size

    def decision_for(self, num_hypotheses: int) -> GateDecision:
        """The decision repeated for ``num_hypotheses`` rows laid out utterance by utterance."""
        times, rest = divmod(int(num_hypotheses), int(self.num_utterances))
        if rest or not times:
            raise ValueError(
                f"{num_hypotheses} hypotheses cannot be split evenly over "
                f"{self.num_utterances} utterances"
            )
        if times not in self._per_hypothesis:
            self._per_hypothesis[times] = self.decision.repeat_rows(times)
        return self._per_hypothesis[times]


@dataclass(frozen=True)
class HypothesisState:
    """ESPnet beam-search state of one hypothesis for ``transformer_dynprune``.

    Not a tuple: ESPnet's beam search rebuilds the tuples in a state from their items.
    """

    layers: List[torch.Tensor]  # per layer (prefix length, D) outputs
    source: UtteranceSource
