"""Static structured pruning through the recipe: stages 6-8 distil-prune the shipped stand-in's encoder
and decoder with ESPnet's own s2t_train (model: distill_prune), export it, and stock ESPnet's
Speech2Text loads the smaller model strictly and decodes what the masked model decodes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from espnet_dynprune.data.espeak import read_wav
from espnet_dynprune.recipe import model_zoo as model_zoo_command
from espnet_dynprune.zoo.model_zoo import ModelZooDir
from tests.builders.tiny_recipe import RECIPE, TrainedModel, run_recipe, write_yaml

STANDIN = RECIPE / "standin"
TINY_STATIC = {
    "prune": "static_both",
    "prune_conf": {"sparsity_target": 0.5, "sparsity_warmup_steps": 8, "mask_lr_scale": 500.0,
                   "lagrangian_lr_scale": 500.0},
    "optim": "adam", "optim_conf": {"lr": 2.0e-3}, "scheduler": "warmuplr", "scheduler_conf": {"warmup_steps": 4},
    "batch_type": "sorted", "batch_size": 4, "max_epoch": 3, "keep_nbest_models": 1, "num_workers": 0,
    "best_model_criterion": [["valid", "loss_distill", "min"]], "num_att_plot": 0, "log_interval": 1,
}  # fmt: skip


@pytest.fixture(scope="module")
def static_run(trained_dynprune: TrainedModel) -> Path:
    """Stages 6-8 on the dumps of the session's tiny recipe run; returns the static experiment dir."""
    recipe = trained_dynprune.recipe
    write_yaml(recipe / "conf" / "tiny_static.yaml", TINY_STATIC)
    work = "exp/standin_pretrain"
    run_recipe(recipe, "./run.sh", "--stage", "6", "--stop_stage", "8", "--pretrained_model", str(STANDIN),
               "--static_prune_config", "conf/tiny_static.yaml", "--data_dir", f"{work}/data",
               "--dumpdir", f"{work}/dump", "--train_threads", "2")  # fmt: skip
    return recipe / "exp" / "tiny_static"


def _speech2text(config: Path, model_file: Path):
    from espnet2.bin.s2t_inference import Speech2Text  # the plugin's subclass, installed by the .pth hook

    return Speech2Text(s2t_train_config=str(config), s2t_model_file=str(model_file), lang_sym="<fra>",
                       task_sym="<asr>", beam_size=2, ctc_weight=0.0, maxlenratio=0.5, device="cpu")


def test_distillation_pruning_runs_as_espnet_training_and_logs_its_sparsity(static_run: Path) -> None:
    config = yaml.safe_load((static_run / "config.yaml").read_text(encoding="utf-8"))
    assert (config["encoder"], config["decoder"], config["model"]) == (
        "e_branchformer_prunable", "transformer_prunable", "distill_prune")
    assert Path(config["model_conf"]["teacher_init"]).resolve() == ModelZooDir.load(STANDIN).model_file.resolve()
    log = (static_run / "train.log").read_text(encoding="utf-8")
    realised = [float(v) for v in re.findall(r"sparsity_realised=([0-9.e-]+)", log)]
    assert realised and "loss_distill=" in log and "lambda2=" in log and "loss_distill_decoder=" in log
    decoder = [float(v) for v in re.findall(r"sparsity_realised_decoder=([0-9.e-]+)", log)]
    assert decoder and decoder[-1] > 0.0
    assert realised[-1] > 0.2  # the masks really moved towards the 0.5 target in 3 short epochs
    checkpoint = torch.load(static_run / "latest.pth", map_location="cpu", weights_only=True)
    assert any(".layer_masks." in k for k in checkpoint)
    assert not any(k.startswith("teacher") or "._teacher" in k for k in checkpoint)  # the teacher is not saved


def test_export_is_a_smaller_model_zoo_dir_with_per_layer_sizes(static_run: Path) -> None:
    zoo = ModelZooDir.load(static_run / "zoo")
    config = zoo.load_config()
    assert (config["encoder"], config["decoder"], config["model"]) == ("e_branchformer_pruned", "transformer_pruned", "espnet")
    for part in ("encoder", "decoder"):
        assert len(config[f"{part}_conf"]["layer_sizes"]) == config[f"{part}_conf"]["num_blocks"]
        assert "prune_groups" not in config[f"{part}_conf"]
    assert "teacher_init" not in config["model_conf"]
    report = json.loads((zoo.root / "export_report.json").read_text(encoding="utf-8"))
    assert report["max_abs_diff"] <= 1e-4
    assert report["params_exported"] < report["params_dense"]
    assert report["encoder_params_exported"] < report["encoder_params_dense"]
    assert report["decoder_params_exported"] < report["decoder_params_dense"]
    assert report["parts"] == ["encoder", "decoder"] and report["decoder_max_abs_diff"] <= 1e-4
    assert report["file_bytes_exported"] < report["file_bytes_source"]
    state = torch.load(zoo.model_file, map_location="cpu", weights_only=True)
    assert sum(v.numel() for v in state.values() if v.is_floating_point()) >= report["params_exported"]


def _test_wav(trained: TrainedModel) -> np.ndarray:
    return read_wav(sorted(trained.wavs("test_epst_fra_asr").values())[0]).astype(np.float32)


def test_stock_speech2text_decodes_the_exported_model_as_the_masked_one(static_run, trained_dynprune, tmp_path) -> None:
    zoo_config = tmp_path / "zoo_config.yaml"
    model_zoo_command.main(["--pretrained_model", str(static_run / "zoo"), "--write_config", str(zoo_config)])
    exported = _speech2text(zoo_config, ModelZooDir.load(static_run / "zoo").model_file)
    masked_config = tmp_path / "masked.yaml"
    config = yaml.safe_load((static_run / "config.yaml").read_text(encoding="utf-8"))
    write_yaml(masked_config, config)
    masked = _speech2text(masked_config, static_run / "latest.pth")
    speech = torch.from_numpy(_test_wav(trained_dynprune))[None]
    lengths = torch.tensor([speech.size(1)])
    with torch.no_grad():
        enc_masked, _ = masked.s2t_model.encode(speech, lengths)
        enc_exported, _ = exported.s2t_model.encode(speech, lengths)
    assert (enc_masked - enc_exported).abs().max().item() <= 1e-4
    assert exported(speech[0].numpy())[0][0] == masked(speech[0].numpy())[0][0]
    fewer = sum(p.numel() for p in exported.s2t_model.parameters())
    assert fewer < sum(p.numel() for n, p in masked.s2t_model.named_parameters() if ".layer_masks." not in f".{n}")


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_sizes_that_disagree_with_the_weights_fail_naming_the_layer(static_run, tmp_path, part) -> None:
    zoo = ModelZooDir.load(static_run / "zoo")
    config = zoo.load_config()
    sizes = config[f"{part}_conf"]["layer_sizes"]
    layer, key = next((i, k) for i, s in enumerate(sizes) for k, v in s.items() if isinstance(v, int) and v > 1)
    sizes[layer][key] -= 1
    bad = write_yaml(tmp_path / "bad.yaml", config)
    with pytest.raises(ValueError, match=rf"{part}_conf layer_sizes\[{layer}\]"):
        _speech2text(bad, zoo.model_file)


def test_static_and_dynamic_fine_tunes_and_decodes_with_the_recipe(static_run, trained_dynprune) -> None:
    """Stages 10-12 with --static_prune_config start from the exported model: dynamic gates on the
    modules static pruning kept, trained by s2t_train and decoded like any model."""
    recipe = trained_dynprune.recipe
    work = "exp/standin_pretrain"
    run_recipe(recipe, "./run.sh", "--stage", "10", "--stop_stage", "12", "--pretrained_model", str(STANDIN),
               "--static_prune_config", "conf/tiny_static.yaml", "--s2t_config", "conf/finetune_dynprune_encoder.yaml",
               "--s2t_exp", "exp/static_dynamic", "--s2t_args", "--max_epoch 1 --batch_size 8",
               "--data_dir", f"{work}/data", "--dumpdir", f"{work}/dump", "--test_sets", "test_epst_fra_asr",
               "--inference_gates", "predicted", "--decode_pretrained", "false")  # fmt: skip
    exp = recipe / "exp" / "static_dynamic"
    config = yaml.safe_load((exp / "config.yaml").read_text(encoding="utf-8"))
    sizes = ModelZooDir.load(static_run / "zoo").load_config()["encoder_conf"]["layer_sizes"]
    assert (config["encoder"], config["encoder_conf"]["layer_sizes"]) == ("e_branchformer_dynprune", sizes)
    assert "enc_sparsity=" in (exp / "train.log").read_text(encoding="utf-8")
    summary = json.loads((exp / "decode_beam5_gates_predicted" / "test_epst_fra_asr" / "decode_summary.json")
                         .read_text(encoding="utf-8"))
    assert summary["num_utts"] > 0 and "encoder" in summary["sparsity"]
