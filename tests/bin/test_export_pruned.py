"""The export_pruned command: a distill_prune S2T run exported to a model-zoo dir, its summary, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.bin import export_pruned
from espnet_dynprune.models.export import build_s2t_model
from espnet_dynprune.zoo.model_zoo import ModelZooDir
from tests.builders.tiny_s2t import s2t_args
from tests.builders.tiny_static import randomize_decoder_masks, randomize_masks

LABELS = ["parameters (model)", "parameters (encoder)", "prunable encoder parameters", "parameters (decoder)",
          "prunable decoder parameters", "model file bytes"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``exp/distill``: the config.yaml and latest.pth of a tiny distill_prune run whose masks keep part of
    every layer of the encoder and the decoder."""
    exp = tmp_path_factory.mktemp("recipe") / "exp" / "distill"
    exp.mkdir(parents=True)
    torch.manual_seed(0)
    config = vars(s2t_args(model="distill_prune", encoder="e_branchformer_prunable", decoder="transformer_prunable",
                           model_conf={"teacher_init": ""}))
    config["token_type"] = "char"  # no sentencepiece model to pack
    model = build_s2t_model(config)
    randomize_masks(model.encoder, seed=1)
    randomize_decoder_masks(model.decoder, seed=2)
    (exp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    torch.save(model.state_dict(), exp / "latest.pth")
    return exp


def export_args(run: Path, output_dir: Path, *extra: str) -> list:
    return ["--s2t_train_config", str(run / "config.yaml"), "--s2t_model_file", str(run / "latest.pth"),
            "--output_dir", str(output_dir), *extra]


def test_the_summary_says_parameters_and_bytes_before_and_after_and_the_report_holds_them(run, tmp_path, capsys):
    export_pruned.main(export_args(run, tmp_path / "zoo"))
    lines = capsys.readouterr().out.splitlines()
    report = json.loads((tmp_path / "zoo" / "export_report.json").read_text(encoding="utf-8"))
    assert [line[:28].rstrip() for line in lines[:6]] == LABELS
    assert lines[0] == "parameters (model)                   80,292 ->         61,198  (23.8% fewer)"
    assert (report["params_dense"], report["params_exported"]) == (80292, 61198)
    assert lines[2] == (f"prunable encoder parameters  {report['encoder_prunable_dense']:>14,} -> "
                        f"{report['encoder_prunable_kept']:>14,}  "
                        f"({1 - report['encoder_prunable_kept'] / report['encoder_prunable_dense']:.1%} fewer)")
    assert lines[6].startswith("max |masked - exported| encoder output: ") and float(lines[6].split()[-1]) <= 1e-4
    assert lines[7].startswith("max |masked - exported| decoder output: ")
    assert lines[8:] == [f"wrote {tmp_path / 'zoo'}"]
    zoo = ModelZooDir.load(tmp_path / "zoo")
    assert report["file_bytes_source"] == (run / "latest.pth").stat().st_size
    assert report["file_bytes_exported"] == zoo.model_file.stat().st_size < report["file_bytes_source"]
    assert lines[5].split()[3:6] == [f"{report['file_bytes_source']:,}", "->", f"{report['file_bytes_exported']:,}"]
    config = yaml.safe_load(zoo.config.read_text(encoding="utf-8"))
    assert (config["model"], config["encoder"], config["decoder"]) == ("espnet", "e_branchformer_pruned",
                                                                      "transformer_pruned")
    assert zoo.config.parent.name == "distill_pruned"  # the run's dir name, marked
    meta = yaml.safe_load((tmp_path / "zoo" / "meta.yaml").read_text(encoding="utf-8"))
    assert meta["provenance"] == (f"espnet_dynprune.bin.export_pruned of {run / 'config.yaml'} + "
                                  f"{run / 'latest.pth'}") and meta["dtype"] == "float32"


def test_half_stores_fp16_weights(run, tmp_path, capsys):
    export_pruned.main(export_args(run, tmp_path / "zoo", "--half", "true"))
    zoo = ModelZooDir.load(tmp_path / "zoo")
    state = torch.load(zoo.model_file, weights_only=True)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    assert yaml.safe_load((tmp_path / "zoo" / "meta.yaml").read_text(encoding="utf-8"))["dtype"] == "float16"


@pytest.mark.parametrize("config, model, message", [
    ("--s2t_train_config", "--asr_model_file", "--s2t_train_config goes with --s2t_model_file"),
    ("--asr_train_config", "--s2t_model_file", "--asr_train_config goes with --asr_model_file"),
])
def test_a_config_of_one_task_with_weights_of_the_other_is_refused(run, tmp_path, config, model, message):
    with pytest.raises(SystemExit, match=message):
        export_pruned.main([config, str(run / "config.yaml"), model, str(run / "latest.pth"),
                            "--output_dir", str(tmp_path / "zoo")])
    assert not (tmp_path / "zoo").exists()


def test_two_configs_are_refused_by_the_parser(run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export_pruned.main(["--s2t_train_config", "a.yaml", "--asr_train_config", "b.yaml",
                            "--s2t_model_file", "m.pth", "--output_dir", str(tmp_path / "zoo")])
    assert exit_info.value.code == 2
    assert "argument --asr_train_config: not allowed with argument --s2t_train_config" in capsys.readouterr().err


def test_a_config_that_is_no_mapping_is_named(run, tmp_path):
    (tmp_path / "config.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"config.yaml is not a YAML mapping"):
        export_pruned.main(["--s2t_train_config", str(tmp_path / "config.yaml"), "--s2t_model_file",
                            str(run / "latest.pth"), "--output_dir", str(tmp_path / "zoo")])


def test_an_export_that_differs_from_the_masked_model_is_not_written(run, tmp_path, monkeypatch):
    monkeypatch.setattr(export_pruned, "export_model", lambda config, state, where, task: ({}, {}, {
        "max_abs_diff": 1.5e-3}))
    with pytest.raises(RuntimeError, match=r"an exported part differs from the masked one by 1\.50e-03 \(> 0\.0001\): "
                                           "please report this with .*config.yaml"):
        export_pruned.main(export_args(run, tmp_path / "zoo"))
    assert not (tmp_path / "zoo").exists()
