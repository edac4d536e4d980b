"""The experiment grid: expansion of the shipped paper grid, spec hashes, and refusing a stale exp dir."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from espnet_dynprune.recipe import grid
from tests.builders.tiny_recipe import RECIPE


def test_the_paper_grid_expands_round_robin_into_unique_runsh_calls():
    setups, experiments = grid.expand(RECIPE / "conf" / "paper_grid.yaml", RECIPE)
    names = [e.name for e in experiments]
    assert len(names) == len(set(names)) and {"pretrained", "dense", "dynprune_both_0.9", "parp_decoder_0.3"} <= set(names)
    # every experiment at its first sparsity before any at its second
    assert names.index("lowres_dynprune_decoder_0.3") < names.index("dynprune_both_0.5")
    both = next(e for e in experiments if e.name == "layer_skipping_both_0.7")
    conf = yaml.safe_load(both.config_text)
    assert conf["prune_conf"]["sparsity_target"] == 0.7 and conf["prune_conf"]["gate_granularity"] == "layer"
    assert both.run_args[both.run_args.index("--s2t_config") + 1] == "exp/grid_confs/layer_skipping_both_0.7.yaml"
    low = next(e for e in experiments if e.name == "lowres_dense")
    assert low.run_args[:8] == ["--europarl_st_langs", "", "--fleurs_langs", "hu bg", "--data_dir", "data_lowres",
                                "--dumpdir", "dump_lowres"]
    static = [e for e in experiments if e.lock]
    assert {e.lock for e in static} == {"conf/static_prune_both_0.7.yaml"} and len(static) == 2
    vox = next(e for e in experiments if e.name == "voxforge_dynprune_both_0.3")
    assert vox.run_args[:2] == ["--voxforge_langs", "fr de it"] and vox.data == "voxforge"
    assert set(setups) == {"epst", "lowres", "voxforge"}


def test_the_spec_hash_follows_the_yaml_files_an_experiment_reads(tmp_path):
    recipe = Path(shutil.copytree(RECIPE / "conf", tmp_path / "conf")).parent
    before = {e.name: e.spec_hash for e in grid.expand(recipe / "conf" / "paper_grid.yaml", recipe)[1]}
    path = recipe / "conf" / "finetune_dense.yaml"
    path.write_text(path.read_text().replace("max_epoch: 5", "max_epoch: 6"))
    after = {e.name: e.spec_hash for e in grid.expand(recipe / "conf" / "paper_grid.yaml", recipe)[1]}
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"dense", "lowres_dense", "voxforge_dense", "static_both_0.7"}


def test_bad_entries_and_stale_exp_dirs_are_named(tmp_path):
    bad = tmp_path / "grid.yaml"
    bad.write_text(yaml.safe_dump({"experiments": [{"name": "x", "table": "t", "method": "m", "part": "both",
                                                    "s2t_config": "conf/none.yaml", "sparsity": 0.5}]}))
    with pytest.raises(ValueError, match=r"experiment 'x': unknown keys \['sparsity'\]"):
        grid.expand(bad, tmp_path)
    bad.write_text(yaml.safe_dump({"experiments": [{"name": "x", "table": "t", "method": "m", "part": "both",
                                                    "s2t_config": "conf/none.yaml"}]}))
    with pytest.raises(FileNotFoundError, match="experiment 'x': conf/none.yaml does not exist"):
        grid.expand(bad, tmp_path)
    _, experiments = grid.expand(RECIPE / "conf" / "paper_grid.yaml", RECIPE)
    dense = next(e for e in experiments if e.name == "dense")
    (tmp_path / "exp" / "dense").mkdir(parents=True)
    (tmp_path / "exp" / "dense" / grid.SPEC).write_text(json.dumps({"spec_hash": "0123"}))
    runner = grid.Runner(tmp_path, tmp_path / "raw", jobs=1, threads=1)
    with pytest.raises(ValueError, match="exp/dense was made from another spec .* remove exp/dense"):
        runner.check_exp_dir(dense)
    assert not runner.is_done(dense)


def test_run_sh_output_goes_to_the_log_and_its_progress_to_the_console(tmp_path: Path, caplog) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/usr/bin/env bash\n"
                      "echo '2026-12-07T10:00:00 (run.sh:210) Stage 11: training conf.yaml -> exp/x'\n"
                      "echo 'Vocabulary size: 300'\n"
                      "echo 'epoch 1/2 started [0m00s elapsed]'\n"
                      "echo '  epoch 1, batches 1-20: loss 3.1'\n"
                      "echo 'epoch 1 done: train loss 3.0 [1m02s elapsed]'\n"
                      "echo 'training finished at 2 epochs [2m05s elapsed]'\n", encoding="utf-8")
    script.chmod(0o755)
    log = tmp_path / "logs" / "dyn_0.5.log"
    with caplog.at_level("INFO"):
        grid.Runner(tmp_path, tmp_path / "raw", jobs=1, threads=1).run_sh([], log)
    assert "Vocabulary size: 300" in log.read_text() and "batches 1-20" in log.read_text()
    shown = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dyn_0.5: ")]
    assert [s.split(": ", 1)[1].split(" [")[0] for s in shown] == [
        "2026-12-07T10:00:00 (run.sh:210) Stage 11: training conf.yaml -> exp/x", "epoch 1/2 started",
        "epoch 1 done: train loss 3.0", "training finished at 2 epochs"]


def test_a_failing_run_sh_names_its_log_and_shows_its_end(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/usr/bin/env bash\necho 'last words'\nexit 3\n", encoding="utf-8")
    script.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"run.sh exited with 3; see .*x.log; its end:\nlast words"):
        grid.Runner(tmp_path, tmp_path / "raw", jobs=1, threads=1).run_sh([], tmp_path / "x.log")
