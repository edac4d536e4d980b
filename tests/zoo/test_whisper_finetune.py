"""The asr_train config of fine-tuning a converted Whisper: the pruned parts swapped, the gating keys
routed, ESPnet's per-utterance prompt for a multilingual model, wrong keys named."""

import pytest

from espnet_dynprune.zoo.whisper_finetune import gating_keys, whisper_finetune_config

MODEL = {"encoder": "whisper_local", "encoder_conf": {"whisper_model": "w.pt", "do_pad_trim": True},
         "decoder": "whisper_local", "decoder_conf": {"whisper_model": "w.pt"}, "model": "espnet",
         "model_conf": {"ctc_weight": 0.0, "lsm_weight": 0.1}, "token_type": "whisper_multilingual",
         "preprocessor_conf": {"whisper_language": "en", "whisper_task": "transcribe"}, "optim": "adam"}


def test_both_parts_are_gated_and_each_key_goes_where_it_belongs():
    finetune = {"prune": "both", "prune_conf": {"sparsity_target": 0.5, "gate_predictor": "context",
                                                "sparsity_loss_weight": 5.0},
                "encoder_conf": {"sparsity_target": 0.3}, "optim": "adamw", "max_epoch": 3}
    config = whisper_finetune_config({**MODEL, "required": ["output_dir"]}, finetune)
    assert "required" not in config  # ESPnet's list of mandatory options, which asr_train --config refuses
    assert (config["encoder"], config["decoder"], config["model"]) == ("whisper_dynprune",) * 2 + ("dynprune",)
    assert config["encoder_conf"] == {"whisper_model": "w.pt", "do_pad_trim": True, "sparsity_target": 0.3,
                                      "gate_predictor": "context"}
    assert config["decoder_conf"] == {"whisper_model": "w.pt", "sparsity_target": 0.5, "gate_predictor": "context"}
    assert config["model_conf"] == {"ctc_weight": 0.0, "lsm_weight": 0.1, "sparsity_loss_weight": 5.0}
    assert config["use_lang_prompt"] is True  # ESPnet's preprocessor: each utterance's <|lang|> <|task|>
    assert (config["optim"], config["max_epoch"]) == ("adamw", 3) and MODEL["model"] == "espnet"


def test_dense_fine_tuning_keeps_the_classes():
    config = whisper_finetune_config(MODEL, {"prune": "none", "optim_conf": {"lr": 1.0e-5}})
    assert (config["encoder"], config["decoder"], config["model"]) == ("whisper_local", "whisper_local", "espnet")
    assert config["optim_conf"] == {"lr": 1.0e-5}


def test_the_gating_keys_are_the_drop_ins_own():
    keys = gating_keys()
    assert {"sparsity_target", "gate_predictor", "gate_granularity"} <= set(keys["encoder"]) & set(keys["decoder"])
    assert "whisper_model" not in keys["encoder"] and keys["model"] == ["sparsity_loss_weight"]


@pytest.mark.parametrize("model, finetune, match", [
    (MODEL, {"prune": "all"}, r"ft.yaml: prune 'all' is not one of"),
    (MODEL, {"prune": "both", "prune_conf": {"sparsity_targte": 0.5}}, r"prune_conf keys \['sparsity_targte'\]"),
    (MODEL, {"prune": "none", "prune_conf": {"sparsity_target": 0.5}}, "prune_conf is given but prune is 'none'"),
    (MODEL, {"prune": "decoder", "encoder_conf": {"sparsity_target": 0.5}}, "the encoder is not pruned"),
    (MODEL, {"encoder": "whisper_dynprune"}, r"\['encoder'\] come from the Whisper model"),
    ({**MODEL, "encoder": "whisper_pruned"}, {}, "starts from encoder: whisper_local"),
    ({**MODEL, "token_type": "whisper_en"}, {"prune": "encoder"}, "English-only Whisper's targets name no language"),
])
def test_a_wrong_config_is_named(model, finetune, match):
    with pytest.raises(ValueError, match=match):
        whisper_finetune_config(model, finetune, "ft.yaml")
