"""Hard-concrete (L0) masks: exact 0/1 samples, the closed-form expected L0, the deterministic
inference mask, and the straight-through gradient that lets whole-module masks learn."""

import math

import pytest
import torch

from espnet_dynprune.gating.hard_concrete import HardConcrete


def test_training_samples_are_in_0_1_with_exact_zeros_and_ones():
    torch.manual_seed(0)
    mask = HardConcrete(1000, init_keep=0.6).train()
    z = mask()
    assert z.min() >= 0.0 and z.max() <= 1.0
    assert (z == 0.0).any() and (z == 1.0).any() and ((z > 0) & (z < 1)).any()


def test_expected_l0_is_the_probability_of_a_non_zero_sample():
    torch.manual_seed(0)
    mask = HardConcrete(8).train()
    mask.set_log_alpha(torch.linspace(-4.0, 4.0, 8))
    with torch.no_grad():
        samples = torch.stack([mask() for _ in range(20000)])
    empirical = (samples > 0).float().mean(0)
    assert torch.allclose(empirical, mask.keep_probability().detach(), atol=0.015)
    assert mask.expected_l0().item() == pytest.approx(mask.keep_probability().sum().item())


def test_initial_keep_probability_is_init_keep():
    mask = HardConcrete(5, init_keep=0.99)
    assert torch.allclose(mask.keep_probability(), torch.full((5,), 0.99))
    assert mask.expected_l0().item() == pytest.approx(4.95)


def test_eval_mask_is_deterministic_and_keeps_the_expected_number_of_units():
    mask = HardConcrete(10).eval()
    mask.set_log_alpha(torch.tensor([5.0, -5.0, 4.0, -6.0, 3.0, 2.0, -4.0, 6.0, 0.5, -3.0]))
    kept = round(mask.expected_l0().item())
    first = mask()
    assert torch.equal(first, mask()) and int((first > 0).sum()) == kept
    top = mask.log_alpha.topk(kept).indices
    assert set(first.nonzero().squeeze(1).tolist()) == set(top.tolist())
    assert first.max() <= 1.0


def test_straight_through_keeps_a_saturated_whole_module_mask_learning():
    """A mask stuck in the clamp's flat region gets no gradient unless it passes straight through."""
    grads = {}
    for straight_through in (False, True):
        torch.manual_seed(0)
        mask = HardConcrete(1, straight_through=straight_through).train()
        mask.set_log_alpha(8.0)  # sample ~ r = 1.1, clamped to exactly 1
        z = mask()
        assert z.item() == 1.0  # same forward value either way
        (z * 3.0).sum().backward()  # e.g. the loss would rather prune the module
        grads[straight_through] = mask.scaled_log_alpha.grad.abs().item()
    assert grads[False] == 0.0 and grads[True] > 0.0


@pytest.mark.parametrize("kwargs,match", [
    ({"num_units": 0}, "at least one unit"),
    ({"num_units": 3, "init_keep": 1.0}, "init_keep"),
    ({"num_units": 3, "temperature": 0.0}, "temperature"),
    ({"num_units": 3, "stretch": (0.0, 1.1)}, "stretch"),
    ({"num_units": 3, "lr_scale": 0.0}, "lr_scale"),
])  # fmt: skip
def test_bad_settings_name_the_setting(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HardConcrete(**kwargs)


def test_closed_form_matches_the_l0_papers():
    mask = HardConcrete(1)
    mask.set_log_alpha(0.0)
    expected = 1.0 / (1.0 + math.exp((2.0 / 3.0) * math.log(0.1 / 1.1)))
    assert mask.keep_probability().item() == pytest.approx(expected)


def test_lr_scale_makes_log_alpha_move_that_much_faster_under_adam():
    moved = {}
    for scale in (1.0, 100.0):
        mask = HardConcrete(4, lr_scale=scale).train()
        start = mask.log_alpha.detach().clone()
        optimiser = torch.optim.Adam(mask.parameters(), lr=1e-3)
        for _ in range(5):
            optimiser.zero_grad()
            mask.expected_l0().backward()
            optimiser.step()
        moved[scale] = (start - mask.log_alpha.detach()).mean().item()
    assert moved[100.0] == pytest.approx(100.0 * moved[1.0], rel=1e-2)
