"""The asr_train config of static pruning of a converted Whisper: the parts swapped, the experiment's keys merged, wrong keys named."""

import pytest

from espnet_dynprune.zoo.whisper_prune import prune_keys, whisper_prune_config

MODEL = {"encoder": "whisper_local", "encoder_conf": {"whisper_model": "w.pt", "do_pad_trim": True},
         "decoder": "whisper_local", "decoder_conf": {"whisper_model": "w.pt"}, "model": "espnet",
         "model_conf": {"ctc_weight": 0.0, "lsm_weight": 0.1}, "optim": "adam", "optim_conf": {"lr": 1.0}}


def test_the_encoder_and_the_model_are_swapped_and_the_experiment_merged():
    prune = {"encoder_conf": {"prune_groups": ["attn", "ffn"]}, "model_conf": {"sparsity_target": 0.7},
             "optim_conf": {"lr": 2.0e-4}, "batch_size": 4}
    config = whisper_prune_config({**MODEL, "required": ["output_dir", "token_list"]}, prune, "/exp/dense.pth")
    assert "required" not in config  # ESPnet's list of mandatory options, which asr_train --config refuses
    assert (config["encoder"], config["decoder"], config["model"]) == ("whisper_prunable", "whisper_local", "distill_prune")
    assert config["encoder_conf"] == {"whisper_model": "w.pt", "do_pad_trim": True, "prune_groups": ["attn", "ffn"]}
    assert config["model_conf"] == {"ctc_weight": 0.0, "lsm_weight": 0.1, "sparsity_target": 0.7,
                                    "teacher_init": "/exp/dense.pth"}
    assert config["optim_conf"] == {"lr": 2.0e-4} and config["batch_size"] == 4
    assert MODEL["encoder"] == "whisper_local"  # the model's config is not changed


def test_the_keys_are_the_mask_and_distillation_keys_only():
    keys = prune_keys()
    assert set(keys["encoder"]) == {"prune_groups", "mask_init_keep", "mask_straight_through", "mask_lr_scale"}
    assert {"sparsity_target", "sparsity_warmup_steps", "distill_layers", "task_loss_weight"} <= set(keys["model"])
    assert "teacher_init" not in keys["model"] and "ctc_weight" not in keys["model"]


@pytest.mark.parametrize("prune, match", [
    ({"model_conf": {"sparsity_targte": 0.7}}, r"prune.yaml: model_conf keys \['sparsity_targte'\] are not static"),
    ({"encoder_conf": {"whisper_model": "other.pt"}}, r"encoder_conf keys \['whisper_model'\] are not static"),
    ({"decoder": "whisper_dynprune"}, r"'decoder' comes from the Whisper model"),
])
def test_a_wrong_key_is_named(prune, match):
    with pytest.raises(ValueError, match=match):
        whisper_prune_config(MODEL, prune, "t.pth", "prune.yaml")


def test_only_a_converted_whisper_is_taken():
    with pytest.raises(ValueError, match="starts from encoder: whisper_local .* got 'e_branchformer'"):
        whisper_prune_config({**MODEL, "encoder": "e_branchformer"}, {}, "t.pth")
