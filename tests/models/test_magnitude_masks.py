"""One global magnitude threshold over several layers: the smallest weights go wherever they are,
the masks are kept as buffers with ESPnet's weight keys, and an update's regrowth is zeroed again."""

import pytest
import torch

from espnet_dynprune.models.magnitude_masks import MASK, add_masks, apply_masks, prune_globally, zero_fraction


def linears() -> list[torch.nn.Linear]:
    torch.manual_seed(0)
    small, large = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    with torch.no_grad():
        small.weight.mul_(0.01)  # a layer of small weights loses more under one global threshold
    layers = [small, large]
    add_masks(layers)
    return layers


def test_the_smallest_weights_over_all_layers_are_removed():
    layers = linears()
    everything = torch.cat([m.weight.flatten().abs() for m in layers])
    threshold = everything.sort().values[63]
    prune_globally(layers, 0.5)
    assert zero_fraction(layers) == pytest.approx(0.5)
    assert zero_fraction(layers[:1]) > zero_fraction(layers[1:])
    assert all(bool((m.weight[m.weight != 0].abs() > threshold).all()) for m in layers)
    assert all(torch.equal(getattr(m, MASK), (m.weight != 0).float()) for m in layers)
    assert set(layers[0].state_dict()) == {"weight", "bias", MASK}  # ESPnet's keys, plus the mask


def test_regrown_weights_are_zeroed_again():
    layers = linears()
    prune_globally(layers, 0.75)
    with torch.no_grad():
        for m in layers:
            m.weight.add_(1.0)  # an optimiser step moves every weight
    assert zero_fraction(layers) == 0.0
    apply_masks(layers)
    assert zero_fraction(layers) == pytest.approx(0.75)


@pytest.mark.parametrize("amount", [-0.1, 1.0])
def test_an_amount_outside_0_1_is_refused(amount):
    with pytest.raises(ValueError, match=f"amount must be in \\[0, 1\\), got {amount}"):
        prune_globally(linears(), amount)


def test_no_weights_is_no_sparsity():
    assert zero_fraction([]) == 0.0
