"""egs2/europarl_st/s2t1 end to end on a tiny generated corpus: stand-in pretraining, then
run.sh stages 1-13 (data prep, audio, token list, stats, dynprune fine-tuning, decoding as JOB
arrays, scoring, GFLOPs, results table), the errors a user meets first, and the same stages through
a real Slurm."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.builders.slurm_cluster import PARTITION, SlurmCluster
from tests.builders.tiny_recipe import copy_recipe, recipe_env, run_recipe, tiny_config, write_yaml

TINY_CORPUS = "--train 6 --dev 2 --test 2 --fleurs_train 4 --fleurs_dev 2 --fleurs_test 2"
TEST_SETS = "test_epst_fra_asr test_epst_fra_st_eng"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the recipe (sources only) with a tiny stand-in config."""
    root = copy_recipe(tmp_path_factory.mktemp("egs2") / "europarl_st" / "s2t1")
    one_block = {"encoder_conf": {"attention_heads": 2, "num_blocks": 1},
                 "decoder_conf": {"attention_heads": 2, "num_blocks": 1},
                 "max_epoch": 1, "batch_size": 4, "keep_nbest_models": 1}
    write_yaml(root / "conf" / "tiny_standin.yaml", tiny_config(one_block))
    return root


def test_missing_corpus_root_names_the_db_sh_variable(recipe: Path) -> None:
    db = recipe / "db.sh"
    original = db.read_text()
    db.write_text(original.replace("FLEURS= ", "FLEURS=/nonexistent "))
    try:
        proc = run_recipe(recipe, "./run.sh", "--stop_stage", "1", "--fleurs_langs", "hu", "--europarl_st_langs", "", check=False)
    finally:
        db.write_text(original)
    assert proc.returncode != 0 and "FLEURS" in proc.stderr and "/nonexistent" in proc.stderr


def test_unknown_option_is_refused(recipe: Path) -> None:
    proc = run_recipe(recipe, "./run.sh", "--sparsity", "0.5", check=False)
    assert proc.returncode != 0 and "unknown option --sparsity" in proc.stderr


def test_pretrain_standin_then_stages_1_to_13(recipe: Path) -> None:
    run_recipe(recipe, "./local/pretrain_standin.sh", "--config", "conf/tiny_standin.yaml", "--num_pieces", "60",
         "--mini_corpus_opts", TINY_CORPUS, "--out", "standin_tiny")  # fmt: skip
    assert (recipe / "standin_tiny" / "meta.yaml").is_file()
    assert "pretrain_standin.sh" in (recipe / "standin_tiny" / "meta.yaml").read_text()

    proc = run_recipe(recipe, "./run.sh", "--pretrained_model", "standin_tiny", "--mini_corpus_opts", TINY_CORPUS,
         "--s2t_args", "--max_epoch 1 --batch_size 4", "--test_sets", TEST_SETS, "--inference_gates", "predicted",
         "--nj", "2")  # fmt: skip
    # Training shows its progress on the console; the log stays where ESPnet puts it.
    assert "epoch 1/1 started" in proc.stdout and "epoch 1 done: train loss" in proc.stdout
    assert "training finished at 1 epochs" in proc.stdout

    # Data in OWSM format with both tasks; the token list is the stand-in's, copied.
    text = (recipe / "dump/raw/train/text").read_text()
    assert "<fra><asr><notimestamps>" in text and "<deu><st_eng><notimestamps>" in text
    assert (recipe / "data/token_list/bpe_unigram60/tokens.txt").is_file()
    # Fine-tuned as dynprune, from the pretrained weights.
    config = yaml.safe_load((recipe / "exp/s2t_finetune_dynprune/config.yaml").read_text())
    assert (config["model"], config["encoder"], config["decoder"]) == ("dynprune", "e_branchformer_dynprune", "transformer_dynprune")
    assert "standin_tiny" in (recipe / "exp/s2t_finetune_dynprune/train.log").read_text()
    # Two decode shards per test set, merged, scored; FLOPs and sparsity recorded.
    decode = recipe / "exp/s2t_finetune_dynprune/decode_beam5_gates_predicted"
    for dset in TEST_SETS.split():
        assert (decode / dset / "logdir/output.2/done").is_file()
        summary = json.loads((decode / dset / "decode_summary.json").read_text())
        assert summary["num_utts"] == 2 and set(summary["sparsity"]) == {"encoder", "decoder"}
        assert json.loads((decode / dset / "flops.json").read_text())["gflops"]["total"] > 0
    assert "wer" in json.loads((decode / "test_epst_fra_asr/result.json").read_text())
    assert "bleu" in json.loads((decode / "test_epst_fra_st_eng/result.json").read_text())
    assert (recipe / "exp/pretrained/decode_beam5_gates_on/test_epst_fra_asr/result.json").is_file()
    table = (recipe / "exp/results/results.md").read_text()
    assert "s2t_finetune_dynprune" in table and "pretrained" in table
    assert (recipe / "exp/results/results.csv").is_file()

    # Resumable: finished decode shards are not redone (nor is the model loaded for them).
    hyps = (decode / "test_epst_fra_asr/text").read_text()
    run_recipe(recipe, "./run.sh", "--stage", "12", "--stop_stage", "12", "--test_sets", "test_epst_fra_asr",
         "--inference_gates", "predicted", "--decode_pretrained", "false", "--nj", "2")  # fmt: skip
    log = (decode / "logdir/decode.1.log").read_text()  # one JOB array for all test sets
    assert "are done; skipping" in log
    assert (decode / "test_epst_fra_asr/text").read_text() == hyps

    # --stage N means stage N: stage 4 alone re-filters train/dev from dump/raw/org, nothing else.
    proc = run_recipe(recipe, "./run.sh", "--stage", "4", "--stop_stage", "4")
    assert "Stage 4:" in proc.stdout and "Stage 3:" not in proc.stdout and "Stage 5:" not in proc.stdout
    org, kept = ((recipe / d / "wav.scp").read_text() for d in ("dump/raw/org/train", "dump/raw/train"))
    assert kept == org  # the mini corpus pads every recording to 5.95 s: all within 0.1-30 s
    proc = run_recipe(recipe, "./run.sh", "--stage", "4", "--stop_stage", "4", "--max_wav_duration", "5.0", check=False)
    assert proc.returncode != 0 and "is 0.1-5.0 s long" in proc.stderr

    # A failed lookup stops the recipe before training (no s2t_train with --init_param '').
    broken = recipe / "standin_broken"
    shutil.copytree(recipe / "standin_tiny", broken)
    next(broken.rglob("bpe.model")).unlink()
    proc = run_recipe(recipe, "./run.sh", "--stage", "11", "--stop_stage", "11", "--pretrained_model", "standin_broken",
                      "--s2t_exp", "exp/not_trained", check=False)
    assert proc.returncode != 0 and "bpe.model" in proc.stderr and "Stage 11: training" not in proc.stdout
    assert not (recipe / "exp/not_trained/train.log").exists()

    # Utterances longer than the model's window stop stage 10, and no config is left to train with.
    short = yaml.safe_load((recipe / "conf/finetune_dynprune.yaml").read_text())
    write_yaml(recipe / "conf/short_window.yaml", {**short, "preprocessor_conf": {"speech_length": 4.0}})
    proc = run_recipe(recipe, "./run.sh", "--stage", "10", "--stop_stage", "10", "--pretrained_model", "standin_tiny",
                      "--s2t_config", "conf/short_window.yaml", "--s2t_exp", "exp/short", check=False)
    assert proc.returncode != 0 and "longer than speech_length=4.0" in proc.stderr
    assert not (recipe / "exp/short/finetune_config.yaml").exists()


def test_the_grid_runs_resumes_and_renders_its_results_page(recipe: Path) -> None:
    """recipe.grid through run.sh (needs standin_tiny from the test above): a pretrained-only row, a
    dynamic run with its most frequent pattern, raw results, a rerun that skips both, the page."""
    setup = {"pretrained_model": "standin_tiny", "mini_corpus_opts": TINY_CORPUS, "test_sets": TEST_SETS,
             "s2t_args": "--max_epoch 1 --batch_size 4"}
    grid = {"data": {"epst": setup}, "experiments": [
        {"name": "stand_in", "table": "baseline", "method": "pretrained", "part": "none", "pretrained_only": True},
        {"name": "dense", "table": "baseline", "method": "dense fine-tuning", "part": "none",
         "s2t_config": "conf/finetune_dense.yaml", "inference_gates": "on"},
        {"name": "dyn", "table": "dynamic", "method": "context-aware (joint)", "part": "both",
         "s2t_config": "conf/finetune_dynprune.yaml", "sweep": [0.5], "inference_gates": "predicted most_frequent"},
        {"name": "later", "table": "dynamic", "method": "not run", "part": "both",
         "s2t_config": "conf/finetune_dynprune.yaml", "sweep": [0.9]}]}
    write_yaml(recipe / "conf" / "tiny_grid.yaml", grid)
    grid_args = ("-m", "espnet_dynprune.recipe.grid", "--grid", "conf/tiny_grid.yaml", "--raw_dir", "results/raw")
    proc = run_recipe(recipe, "python", *grid_args, "--only", "stand_in", "dense", "dyn_*")
    assert "dyn_0.5: epoch 1 done: train loss" in proc.stderr  # the console shows training move
    raw = {p.stem: json.loads(p.read_text()) for p in (recipe / "results/raw").glob("*.json") if p.stem != "grid"}
    assert set(raw) == {"stand_in", "dense", "dyn_0.5"}
    dyn = raw["dyn_0.5"]
    assert set(dyn["decodes"]) == {"decode_beam5_gates_predicted", "decode_beam5_gates_most_frequent"}
    fixed = dyn["decodes"]["decode_beam5_gates_most_frequent"]["test_epst_fra_asr"]
    pattern = json.loads((recipe / "exp/dyn_0.5/most_frequent_gates.json").read_text())
    assert all(u["gates"]["encoder"] == "".join("1" if k else "0" for k in pattern["encoder"].values())
               for u in fixed["utts"].values())
    assert dyn["meta"]["sparsity_target"] == 0.5 and dyn["meta"]["wall_seconds"] > 0
    assert dyn["meta"]["environment"]["espnet"] in ("202511", "202611")  # where and with what it ran
    assert (recipe / "results/raw/references/test_epst_fra_asr.json").is_file()

    proc = run_recipe(recipe, "python", *grid_args, "--only", "stand_in", "dense", "dyn_*")
    assert "3 of 3 experiments are done; running 0" in proc.stderr

    run_recipe(recipe, "python", "-m", "espnet_dynprune.recipe.timing", "--utts_per_set", "1", "--repeats", "1")
    timing = json.loads((recipe / "results/raw/timing.json").read_text())
    timed = timing["runs"]["dyn_0.5"]["decodes"]["decode_beam5_gates_most_frequent"]
    assert timed["utts"] == 2 and timed["same_hypotheses"] == 1.0 and timed["seconds_per_utt"] > 0
    assert set(timing["runs"]) == {"stand_in", "dense", "dyn_0.5"}
    run_recipe(recipe, "python", "-m", "espnet_dynprune.recipe.paper_results", "--raw_dir", "results/raw",
               "--output", "RESULTS.md")
    page = (recipe / "RESULTS.md").read_text()
    assert "**Not run yet** (1 of the 4 experiments of `conf/tiny_grid.yaml`): later_0.9" in page
    assert "context-aware (joint) 0.5, most frequent pattern" in page and "Difference against dense" in page
    assert "## Context dependence of the gates" in page
    for figure in ("results/figures/dynamic_vs_sparsity.png", "results/figures/gates_dyn_0.5.png"):
        assert figure in page and (recipe / figure).stat().st_size > 1000
    assert (recipe / "results/tables/dynamic.csv").read_text().startswith("Experiment,Gates,")


def test_stage_1_adds_the_mini_corpus_voxforge_part(recipe: Path) -> None:
    """--voxforge_langs without a VOXFORGE root: stage 1 generates the mini corpus's VoxForge part
    and reads it through the VoxForge reader into the same data dirs as Europarl-ST."""
    run_recipe(recipe, "./run.sh", "--stop_stage", "1", "--mini_corpus_opts", TINY_CORPUS, "--voxforge_langs", "fr it",
               "--mini_voxforge_opts", "--speakers 3 --sessions 1 --prompts 2", "--data_dir", "data_voxforge")
    data = recipe / "data_voxforge"
    sets = (data / "test_sets.txt").read_text().split()
    assert {"test_voxforge_fra_asr", "test_voxforge_ita_asr", "test_epst_fra_asr"} <= set(sets)
    train = (data / "train" / "text").read_text().splitlines()
    vox = [line for line in train if line.startswith("voxforge")]
    assert len(vox) == 2 * 2 and all("<asr><notimestamps>" in line for line in vox)  # 1 of 3 speakers per language
    assert any(line.startswith("epst") for line in train)


def test_the_slurm_backend_decodes_trains_and_resumes_as_local_does(recipe: Path, slurm: SlurmCluster) -> None:
    """run.sh --cmd_backend slurm through a real single-node Slurm (needs the local run of the test
    above): stage 12 as a 2-task job array gives the local hypotheses, a cancelled decode fails the
    stage and the rerun completes it, and stage 11 trains the model the local run trained."""
    decode = recipe / "exp/s2t_finetune_dynprune/decode_beam5_gates_predicted"
    local = {d: (decode / d / "text").read_text() for d in TEST_SETS.split()}
    stage12 = ("./run.sh", "--stage", "12", "--stop_stage", "12", "--cmd_backend", "slurm", "--test_sets", TEST_SETS,
               "--inference_gates", "predicted", "--decode_pretrained", "false", "--nj", "2")
    shutil.rmtree(decode)
    run_recipe(recipe, *stage12, env=slurm.env)
    assert {d: (decode / d / "text").read_text() for d in TEST_SETS.split()} == local
    for job in (1, 2):  # each task's log, named by sbatch's %a and written by the job on the node
        log = (decode / f"logdir/decode.{job}.log").read_text()
        assert f"(array task {job}) on {slurm.node}" in log and "# Ended (code 0)" in log

    # scancel while the array runs: the stage fails naming a log; the rerun completes the decode.
    shutil.rmtree(decode)
    proc = subprocess.Popen(stage12, cwd=recipe, env=recipe_env(slurm.env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(line.endswith("RUNNING") for line in slurm.jobs()):
        assert time.monotonic() < deadline and proc.poll() is None, "the decode array never ran"
        time.sleep(0.2)
    slurm.command("scancel", "--partition", PARTITION)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "launch:" in err and "decode." in err
    slurm.wait_for_empty_queue()
    run_recipe(recipe, *stage12, env=slurm.env)
    assert {d: (decode / d / "text").read_text() for d in TEST_SETS.split()} == local

    # Stage 11 through espnet2.bin.launch -> sbatch: the same training as the local run's.
    run_recipe(recipe, "./run.sh", "--stage", "10", "--stop_stage", "11", "--cmd_backend", "slurm",
               "--pretrained_model", "standin_tiny", "--s2t_args", "--max_epoch 1 --batch_size 4",
               "--s2t_exp", "exp/slurm_train", env=slurm.env)
    log = (recipe / "exp/slurm_train/train.log").read_text()
    assert f"(array task none) on {slurm.node}" in log and "# Ended (code 0)" in log
    ours, theirs = (torch.load(recipe / d / "valid.acc.ave.pth", map_location="cpu", weights_only=True)
                    for d in ("exp/slurm_train", "exp/s2t_finetune_dynprune"))
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
