"""The decoder's per-utterance state: its decision repeated per hypothesis, utterance by utterance,
made once per beam width and refused when the hypotheses do not split evenly."""

import pytest
import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.decoder.state import UtteranceSource


def source() -> UtteranceSource:
    values = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    return UtteranceSource(GateDecision(values, ["a", "b"], skip_rows=True, num_frames=5), [None, None])


def test_the_decision_is_repeated_utterance_by_utterance_and_kept():
    state = source()
    assert state.num_utterances == 2
    beam = state.decision_for(6)
    assert beam.batch_size == 6
    assert beam.rows(0).keep.tolist() == [True] * 3 + [False] * 3
    assert beam.rows(1).keep.tolist() == [False] * 3 + [True] * 3
    assert state.decision_for(6) is beam  # made once per beam width


@pytest.mark.parametrize("hypotheses", [0, 5])
def test_hypotheses_that_do_not_split_evenly_are_refused(hypotheses):
    with pytest.raises(ValueError, match=f"{hypotheses} hypotheses cannot be split evenly over 2 utterances"):
        source().decision_for(hypotheses)
