"""GateDecision: the rows each module runs on, and decisions of consecutive batches joined."""

import pytest
import torch

from espnet_dynprune.gating.decision import GateDecision

NAMES = ("layer0.ffn", "layer0.att")


def test_consecutive_batches_join_into_one_decision_over_all_rows():
    first = GateDecision(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), NAMES, skip_rows=True, num_frames=7)
    second = GateDecision(torch.tensor([[1.0, 1.0]]), NAMES, skip_rows=True, num_frames=7)
    joined = GateDecision.concat([first, second])
    assert joined.batch_size == 3 and joined.names == NAMES and joined.num_frames == 7
    assert joined.as_dict() == {"layer0.ffn": [True, False, True], "layer0.att": [False, True, True]}
    assert joined.rows(0).index.tolist() == [0, 2]  # the joined pattern dispatches rows like one batch's


def test_decisions_of_other_gates_do_not_join():
    one = GateDecision(torch.ones(1, 2), NAMES, skip_rows=True, num_frames=7)
    with pytest.raises(ValueError, match="cannot be joined"):
        GateDecision.concat([one, GateDecision(torch.ones(1, 2), NAMES, skip_rows=True, num_frames=8)])
