"""The learned Lagrangian: warm-up, multipliers that ascend, sparsity pushed to the target."""

import logging

import pytest
import torch

from espnet_dynprune.gating.hard_concrete import HardConcrete
from espnet_dynprune.gating.lagrangian import LagrangianSparsity


def test_target_warms_up_linearly():
    term = LagrangianSparsity(0.6, warmup_steps=10)
    assert [term.target_at(s) for s in (0, 5, 10, 20)] == [0.0, pytest.approx(0.3), 0.6, 0.6]
    assert LagrangianSparsity(0.6).target_at(0) == 0.6


def test_multipliers_ascend_while_the_network_descends():
    term = LagrangianSparsity(0.5)
    sparsity = torch.tensor(0.2, requires_grad=True)
    optimiser = torch.optim.SGD([sparsity, *term.parameters()], lr=0.1)
    for _ in range(3):
        optimiser.zero_grad()
        term(sparsity, step=0).backward()
        optimiser.step()
    assert term.lambda1.item() < 0  # below the target: lambda1 (s - t) grows by making lambda1 negative
    assert term.lambda2.item() > 0  # (s - t)^2 > 0: lambda2 grows
    assert sparsity.item() > 0.2  # and the penalty pulls the sparsity up towards the target


def test_hard_concrete_masks_reach_the_target_under_the_lagrangian():
    torch.manual_seed(0)
    masks = HardConcrete(200).train()
    term = LagrangianSparsity(0.7, warmup_steps=50)
    optimiser = torch.optim.Adam([*masks.parameters(), *term.parameters()], lr=0.05)
    for step in range(400):
        optimiser.zero_grad()
        sparsity = 1.0 - masks.expected_l0() / masks.num_units
        term(sparsity, step).backward()
        optimiser.step()
    assert 1.0 - masks.expected_l0().item() / 200 == pytest.approx(0.7, abs=0.05)
    assert (masks.eval()() == 0).float().mean().item() == pytest.approx(0.7, abs=0.05)


def test_overshoot_is_reported(caplog):
    term = LagrangianSparsity(0.5, warmup_steps=100)
    with caplog.at_level(logging.WARNING):
        assert not term.check_overshoot(0.52, step=100)
        assert term.check_overshoot(0.40, step=50)  # the warmed-up target is 0.25 there
        assert term.check_overshoot(0.41, step=51)
    assert "sparsity 0.400 overshoots the target 0.250 at update 50" in caplog.text
    assert caplog.text.count("overshoots") == 1  # one warning per episode, not one per step


@pytest.mark.parametrize("kwargs,match", [({"target": 1.0}, "target must be in"), ({"target": 0.5, "warmup_steps": -1}, "warmup_steps")])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LagrangianSparsity(**kwargs)


def test_the_warm_up_clock_counts_optimiser_updates_and_is_saved():
    term = LagrangianSparsity(0.5, warmup_steps=4)
    optimiser = torch.optim.Adam(term.parameters(), lr=0.1)
    for _ in range(3):
        term(torch.tensor(0.1), term.step).backward()  # two forward passes per update (accum_grad 2)
        term(torch.tensor(0.1), term.step).backward()
        optimiser.step()
    assert term.step == 3 and term.target_at(term.step) == pytest.approx(0.375)
    restored = LagrangianSparsity(0.5, warmup_steps=4)
    restored.load_state_dict(term.state_dict())
    assert restored.step == 3
