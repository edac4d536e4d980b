import pytest
import torch

from espnet_dynprune.gating.sparsity import (
    check_sparsity_target,
    cost_weighted_sparsity,
    sparsity_loss,
)


@pytest.mark.parametrize("value", [0.0, 0.1, 0.9, 0.999])
def test_valid_targets(value):
    assert check_sparsity_target(value) == value


@pytest.mark.parametrize("value", [1.0, -0.1, 2])
def test_out_of_range_target_names_key_and_value(value):
    with pytest.raises(ValueError, match=rf"sparsity_target must be in \[0, 1\), got {value}"):
        check_sparsity_target(value)


def test_non_number_target():
    with pytest.raises(TypeError, match="sparsity_target"):
        check_sparsity_target("0.5")


def test_squared_loss_pulls_from_both_sides():
    realised = torch.tensor(0.2, requires_grad=True)
    loss = sparsity_loss(realised, 0.5)
    loss.backward()
    assert loss.item() == pytest.approx(0.09)
    assert realised.grad.item() < 0  # increasing sparsity lowers the loss
    assert sparsity_loss(torch.tensor(0.8), 0.5).item() == pytest.approx(0.09)


def test_cost_weighting():
    skipped = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    costs = torch.tensor([8.0, 1.0, 1.0])
    assert cost_weighted_sparsity(skipped, costs).item() == pytest.approx(0.4)
