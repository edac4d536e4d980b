"""ESPnet's beam-search scorer API over a decoder that prepares each utterance's source once.

A decoder with ``prepare_source(memory, memory_mask, ys)`` (gate decision and cross/source
keys/values of U utterances) and ``step(ys, ys_mask, source, cache)`` (log-probabilities of the
next token and each layer's new cache tensor) becomes ESPnet's ``ScorerInterface`` /
``BatchScorerInterface`` here: the source is made at the first step and travels, shared, in every
hypothesis's state (``HypothesisState``); each layer's cache travels per hypothesis.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import torch

from espnet_dynprune.nets.decoder.state import HypothesisState, UtteranceSource
from espnet_dynprune.nets.espnet_compat import subsequent_mask


def rows_per_utterance(xs: torch.Tensor, ys: torch.Tensor, xs_mask: Optional[torch.Tensor]) -> int:
    """How many consecutive rows of the first step hold the same utterance.

    ESPnet 202611's multi-utterance search hands each utterance over once per beam slot
    (utterance-major copies); preparing the source of each copy would project the same keys/values
    ``beam`` times, and attend to them that often at every step. Equal rows come in runs; the
    greatest common divisor of the run lengths splits every run into whole groups (two equal
    utterances side by side are one longer run).
    """
    def same(i: int) -> bool:
        return (torch.equal(xs[i], xs[i - 1]) and torch.equal(ys[i], ys[i - 1])
                and (xs_mask is None or torch.equal(xs_mask[i], xs_mask[i - 1])))

    starts = [0] + [i for i in range(1, xs.size(0)) if not same(i)]
    return math.gcd(*(end - start for start, end in zip(starts, starts[1:] + [xs.size(0)])))


class StepScorer:
    """Mixin: ``score`` and ``batch_score`` from the decoder's ``prepare_source`` and ``step``."""

    def _source_of(
        self, states: List[Any], xs: torch.Tensor, ys: torch.Tensor, xs_mask: Optional[torch.Tensor]
    ) -> UtteranceSource:
        if states[0] is None:
            k = rows_per_utterance(xs, ys, xs_mask)
            return self.prepare_source(xs[::k], None if xs_mask is None else xs_mask[::k], ys[::k])
        source = states[0].source
        if any(s.source is not source for s in states):
            raise ValueError("batch_score got hypotheses of different utterances' states")
        return source

    def score(self, ys: torch.Tensor, state: Any, x: torch.Tensor, return_hs: bool = False):
        """ESPnet ``ScorerInterface.score`` (non-batched beam search)."""
        out, states = self.batch_score(ys.unsqueeze(0), [state], x.unsqueeze(0), return_hs)
        if return_hs:
            (logp, hs) = out
            return logp.squeeze(0), hs, states[0]
        return out.squeeze(0), states[0]

    def batch_score(
        self,
        ys: torch.Tensor,
        states: List[Any],
        xs: torch.Tensor,
        return_hs: bool = False,
        xs_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[Any, List[HypothesisState]]:
        """ESPnet ``BatchScorerInterface.batch_score`` with per-utterance source and gates.

        At the first step (states None) each run of equal rows of ``xs`` is one utterance
        (ESPnet starts from one hypothesis per utterance, or per beam slot); later the hypotheses share
        their utterances' ``source``, laid out utterance by utterance as ESPnet's
        multi-utterance search keeps them. ``xs_mask``: (rows, 1, T) True on real
        frames, when the utterances were padded (read at the first step).
        """
        states = states if states is not None else [None] * ys.size(0)  # ESPnet's tests pass None
        source = self._source_of(states, xs, ys, xs_mask)
        cache = None
        if states[0] is not None:
            cache = [torch.stack([s.layers[i] for s in states]) for i in range(len(states[0].layers))]
        ys_mask = subsequent_mask(ys.size(-1), device=xs.device).unsqueeze(0)
        out, new_cache = self.step(ys, ys_mask, source, cache, return_hs)
        return out, [HypothesisState([c[b] for c in new_cache], source) for b in range(ys.size(0))]
