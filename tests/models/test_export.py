"""A trained ``model: distill_prune`` (config + weights) exported into the smaller model stock ESPnet
builds: prunable parts become pruned ones, the model ESPnet's own, and each part computes what it did."""

import pytest
import torch

from espnet_dynprune.models.export import build_s2t_model, export_model
from tests.builders.tiny_s2t import s2t_args
from tests.builders.tiny_static import randomize_decoder_masks, randomize_masks


def trained(decoder: str = "transformer_prunable"):
    """(config, weights) of a distillation-pruned tiny model whose masks keep part of every layer."""
    torch.manual_seed(0)
    config = vars(s2t_args(model="distill_prune", encoder="e_branchformer_prunable", decoder=decoder,
                           model_conf={"teacher_init": ""}))
    model = build_s2t_model(config)
    randomize_masks(model.encoder, seed=1)
    if decoder == "transformer_prunable":
        randomize_decoder_masks(model.decoder, seed=2)
    return config, model.state_dict()


@pytest.mark.parametrize("decoder", ["transformer_prunable", "transformer"])
def test_the_exported_model_is_stock_espnet_smaller_and_computes_the_masked_one(decoder):
    config, state = trained(decoder)
    new_config, new_state, report = export_model(config, state, "exp/distill")
    parts = ["encoder", "decoder"] if decoder == "transformer_prunable" else ["encoder"]
    assert report["parts"] == parts
    assert new_config["model"] == "espnet" and new_config["encoder"] == "e_branchformer_pruned"
    assert new_config["decoder"] == ("transformer_pruned" if len(parts) == 2 else "transformer")
    assert "teacher_init" not in new_config["model_conf"] and "prune_groups" not in new_config["encoder_conf"]
    assert len(new_config["encoder_conf"]["layer_sizes"]) == 2
    smaller = build_s2t_model(new_config)
    smaller.load_state_dict(new_state)  # strict
    assert sum(p.numel() for p in smaller.parameters()) == report["params_exported"] < report["params_dense"]
    assert report["max_abs_diff"] <= 1e-4
    for part in parts:
        assert report[f"{part}_prunable_kept"] < report[f"{part}_prunable_dense"]


def test_a_model_without_masks_is_refused_naming_it():
    config = vars(s2t_args(model="espnet", encoder="e_branchformer", decoder="transformer"))
    with pytest.raises(ValueError, match="exp/dense has no masks to export: encoder is 'e_branchformer'"):
        export_model(config, {}, "exp/dense")


def test_weights_without_masks_are_refused():
    config, state = trained()
    without = {k: v for k, v in state.items() if ".layer_masks." not in f".{k}"}
    with pytest.raises(ValueError, match="the weights for exp/distill have no masks"):
        export_model(config, without, "exp/distill")
