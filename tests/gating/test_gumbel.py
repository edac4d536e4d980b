import pytest
import torch

from espnet_dynprune.gating.gumbel import TemperatureSchedule, straight_through_gumbel


def test_forward_is_exactly_binary_with_soft_gradient():
    torch.manual_seed(0)
    logits = torch.randn(64, 5, 2, requires_grad=True)
    keep = straight_through_gumbel(logits, tau=1.0, noise=True)
    assert set(keep.unique().tolist()) <= {0.0, 1.0}
    keep.sum().backward()
    assert logits.grad.abs().sum() > 0


def test_without_noise_the_decision_is_the_argmax():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [-1.0, 4.0]])
    for _ in range(3):
        keep = straight_through_gumbel(logits, tau=0.5, noise=False)
        assert keep.tolist() == [0.0, 1.0, 1.0]


def test_noise_explores_both_outcomes():
    torch.manual_seed(0)
    keep = straight_through_gumbel(torch.zeros(2000, 2), tau=1.0, noise=True)
    assert 0.4 < keep.mean().item() < 0.6


def test_temperature_anneals_linearly_then_holds():
    schedule = TemperatureSchedule(2.0, 0.5, 100)
    assert schedule(0) == 2.0
    assert schedule(50) == pytest.approx(1.25)
    assert schedule(100) == 0.5
    assert schedule(10_000) == 0.5


@pytest.mark.parametrize("start,end,steps,key", [(0.0, 0.1, 10, "gumbel_tau_start"),
                                                  (1.0, -1.0, 10, "gumbel_tau_end"),
                                                  (1.0, 0.1, -5, "gumbel_anneal_steps")])
def test_bad_schedule_names_the_key(start, end, steps, key):
    with pytest.raises(ValueError, match=key):
        TemperatureSchedule(start, end, steps)
