"""Forced gate patterns: what each spec keeps, and the specs it refuses."""

import pytest
import torch

from espnet_dynprune.gating.forcing import GateForcing

CPU = torch.device("cpu")


def test_on_off_and_a_mask_for_every_row():
    assert GateForcing("on", 4).keep(2, CPU).tolist() == [[1.0] * 4] * 2
    assert GateForcing("off", 4).keep(2, CPU).tolist() == [[0.0] * 4] * 2
    mask = torch.tensor([1, 0, 1, 0])
    assert GateForcing(mask, 4).keep(3, CPU).tolist() == [[1.0, 0.0, 1.0, 0.0]] * 3
    rows = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1]])
    assert GateForcing(rows, 4).keep(2, CPU).tolist() == rows.float().tolist()


def test_a_sparsity_skips_the_modules_each_row_ranks_lowest():
    scores = torch.tensor([[3.0, -1.0, 2.0, 0.5], [-2.0, 5.0, 1.0, 4.0]])
    forcing = GateForcing(0.5, 4)
    assert forcing.needs_scores
    assert forcing.keep(2, CPU, scores).tolist() == [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    assert GateForcing(0.0, 4).keep(2, CPU, scores).sum() == 8  # round(0 * G) = 0 skipped


@pytest.mark.parametrize("spec, error, match", [
    ("half", ValueError, "not one of 'on', 'off'"),
    (1.5, ValueError, r"in \[0, 1\]"),
    (torch.ones(3), ValueError, r"\(G,\) or \(B, G\) with G = 4"),
    (True, TypeError, "cannot force gates"),
])
def test_bad_specs_are_refused_naming_the_value(spec, error, match):
    with pytest.raises(error, match=match):
        GateForcing(spec, 4)


def test_a_mask_for_another_batch_size_or_a_sparsity_without_scores_is_refused():
    with pytest.raises(ValueError, match="B = 2 rows but the batch has 3"):
        GateForcing(torch.ones(2, 4), 4).keep(3, CPU)
    with pytest.raises(ValueError, match="needs a gate predictor"):
        GateForcing(0.5, 4).keep(1, CPU)
