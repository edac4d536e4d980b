"""model: magnitude_prune, built by ESPnet's S2TTask: global magnitude masks taken at the first
training step, kept fixed after every update or (PARP) regrown and re-pruned, and re-applied to
every loaded checkpoint."""

from __future__ import annotations

import pytest
import torch

from espnet_dynprune.models import magnitude_masks
from tests.builders.tiny_s2t import batch
from tests.builders.tiny_static import build_s2t


def magnitude_model(**model_conf):
    return build_s2t("magnitude_prune", "e_branchformer", model_conf)


def step(model, optimizer) -> None:
    loss, stats, _ = model(**batch())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return stats


def test_fixed_masks_prune_the_smallest_weights_globally_and_stay_zero_through_updates():
    model = magnitude_model(sparsity_target=0.3).train()
    linears = model.pruned_linears
    assert model.decoder.output_layer not in linears and len(linears) > 10
    assert magnitude_masks.zero_fraction(linears) == 0.0  # nothing pruned before training
    before = torch.cat([m.weight.detach().abs().flatten() for m in linears])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    stats = step(model, optimizer)
    assert stats["magnitude_sparsity"] == pytest.approx(0.3, abs=1e-3)
    kept = torch.cat([m.magnitude_mask.flatten() for m in linears]).bool()
    assert before[~kept].max() <= before[kept].min()  # one global threshold
    for _ in range(2):
        step(model, optimizer)
    assert all(bool((m.weight[m.magnitude_mask == 0] == 0).all()) for m in linears)
    assert model.decoder.output_layer.weight.ne(0).all()


def test_parp_lets_pruned_weights_regrow_and_reprunes_every_interval():
    model = magnitude_model(sparsity_target=0.3, reprune_interval=2).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    step(model, optimizer)
    assert magnitude_masks.zero_fraction(model.pruned_linears) < 0.05  # regrown after the first update
    step(model, optimizer)  # update 2: re-pruned
    assert magnitude_masks.zero_fraction(model.pruned_linears) == pytest.approx(0.3, abs=1e-3)


@pytest.mark.parametrize("interval", [0, 2])
def test_a_loaded_checkpoint_is_pruned_and_the_pretrained_weights_are_not(interval):
    trained = magnitude_model(sparsity_target=0.4, reprune_interval=interval).train()
    step(trained, torch.optim.Adam(trained.parameters(), lr=1e-2))
    for m in trained.pruned_linears:  # as after more updates (or ESPnet's checkpoint average)
        m.weight.data += 0.003  # (not 0.01: an Adam first step moves weights by exactly +-lr)
    state = {k: v.clone() for k, v in trained.state_dict().items()}
    loaded = magnitude_model(sparsity_target=0.4, reprune_interval=interval).eval()
    loaded.load_state_dict(state)
    assert magnitude_masks.zero_fraction(loaded.pruned_linears) == pytest.approx(0.4, abs=1e-3)
    pretrained = {k: v for k, v in state.items() if "magnitude_" not in k}
    fresh = magnitude_model(sparsity_target=0.4, reprune_interval=interval)
    fresh.load_state_dict(pretrained, strict=False)  # what --init_param does
    assert magnitude_masks.zero_fraction(fresh.pruned_linears) == 0.0


def test_only_the_chosen_part_is_pruned():
    model = magnitude_model(sparsity_target=0.5, prune_parts="encoder").train()
    step(model, torch.optim.Adam(model.parameters(), lr=1e-3))
    decoder = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert magnitude_masks.zero_fraction(decoder) == 0.0
    assert magnitude_masks.zero_fraction(model.pruned_linears) == pytest.approx(0.5, abs=1e-3)
    assert model.weight_sparsity() == {"encoder": pytest.approx(0.5, abs=1e-3)}


@pytest.mark.parametrize("conf, match", [
    ({"prune_parts": "ctc"}, "prune_parts 'ctc'"), ({"sparsity_target": 1.0}, "sparsity_target must be in"),
    ({"reprune_interval": -1}, "reprune_interval must be >= 0")])
def test_bad_model_conf_is_named(conf, match):
    with pytest.raises(ValueError, match=match):
        magnitude_model(**conf)
