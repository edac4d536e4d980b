"""Whisper's own stopping and ranking rules for ESPnet's beam search.

ESPnet's end detection stops an utterance only when, for each of the last three lengths, every
hypothesis that ended there scored far below the best one. Whisper's other beams keep repeating
the prompt instead of ending, so on real Whisper models ESPnet's search often runs on to Whisper's
448 text positions although its best hypothesis ended long before. OpenAI's Whisper and
faster-whisper stop as soon as ``beam_size`` hypotheses have ended and rank them by their score
divided by their length. :func:`use_whisper_search` gives a ``Speech2Text`` those two rules:
ESPnet's own length-normalised ranking (its ``normalize_length`` option) and an end detection that
also fires once ``beam_size`` hypotheses of the utterance have ended. The hypotheses are then no
longer ESPnet's; they are Whisper's rules on ESPnet's search.
"""

from __future__ import annotations

import types
from typing import Any, Sequence

from espnet_dynprune.nets.espnet_compat import BatchBeamSearch


def _whisper_end_detected(search: BatchBeamSearch, ended_hyps: Sequence[Any], i: int) -> bool:
    """ESPnet's end detection, or ``beam_size`` ended hypotheses (Whisper's rule, patience 1)."""
    return len(ended_hyps) >= search.beam_size or BatchBeamSearch.end_detected(search, ended_hyps, i)


def use_whisper_search(speech2text: Any) -> None:
    """Give ``speech2text``'s beam search (ESPnet's ``BatchBeamSearch``) Whisper's rules, in place.

    On the instance, not by a subclass: ESPnet 202611's ``Speech2Text.batch_decode`` decodes several
    utterances in one search only when the search's type is exactly ``BatchBeamSearch``.
    """
    search = speech2text.beam_search
    if not hasattr(BatchBeamSearch, "end_detected"):
        raise ValueError("Whisper's stopping rule needs ESPnet 202611's BatchBeamSearch (end_detected)")
    if type(search) is not BatchBeamSearch:
        raise ValueError(f"Whisper's stopping rule needs ESPnet's BatchBeamSearch, this Speech2Text has "
                         f"{type(search).__name__} (a scorer that cannot batch, e.g. an n-gram LM)")
    search.end_detected = types.MethodType(_whisper_end_detected, search)
    search.normalize_length = True

