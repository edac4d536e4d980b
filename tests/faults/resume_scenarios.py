"""Fault scenarios of killed and stale runs: decoding shards, fine-tuning, run.sh lookups."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.recipe import decode, model_zoo as model_zoo_command
from espnet_dynprune.zoo import model_zoo
from tests.builders.tiny_decoding import decode_argv, write_test_set, write_tiny_model
from tests.builders.tiny_recipe import RECIPE
from tests.faults.context import Ctx, raises

# ==================================================================== resumption


class Killed(BaseException):
    """A kill in the middle of a shard (a BaseException: no ``except Exception`` stops it)."""


def count_decodes(ctx: Ctx, kill_at: Optional[int] = None) -> List[int]:
    """Count the utterances stage 12 decodes from now on; with ``kill_at``, die at that one (1-based)."""
    calls: List[int] = []
    real = decode.decode_utterance

    def counting(*args, **kwargs):
        calls.append(len(calls) + 1)
        if len(calls) == kill_at:
            raise Killed
        return real(*args, **kwargs)

    ctx.monkeypatch.setattr(decode, "decode_utterance", counting)
    return calls


def _decode(ctx: Ctx, model: Tuple[Path, Path], test_set: Path, out: Path, *extra: str) -> list:
    """Stage 12's decode CLI: beam 2, no warm-up decodes."""
    return decode.main(decode_argv(model, test_set, out, "--warmup", "0", *extra))


def decode_killed_and_resumed(ctx: Ctx) -> None:
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=4), ctx.tmp / "decode"
    _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1")
    shard1 = out / "logdir/output.1"
    written = {p.name: p.stat().st_mtime_ns for p in shard1.iterdir()}
    count_decodes(ctx, kill_at=2)
    with pytest.raises(Killed):
        _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "2")
    assert (out / "logdir/output.2/text").exists() and not (out / "logdir/output.2/done").exists()

    calls = count_decodes(ctx)
    [summary] = _decode(ctx, ctx.model_files, test_set, out, "--nj", "2")  # the rerun: every shard, then merge
    assert f"{out}: shard(s) [1] are done; skipping them" in ctx.caplog.text
    assert len(calls) == 2 and {p.name: p.stat().st_mtime_ns for p in shard1.iterdir()} == written
    assert list(read_map(out / "logdir/output.2/text")) == ["utt2", "utt3"] and summary["num_utts"] == 4
    _decode(ctx, ctx.model_files, test_set, ctx.tmp / "single")
    assert read_map(out / "text") == read_map(ctx.tmp / "single/text")
    assert read_map(out / "token") == read_map(ctx.tmp / "single/token")


def decode_merge_too_early(ctx: Ctx) -> None:
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=2), ctx.tmp / "decode"
    _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1")
    with raises(FileNotFoundError, f"1 of 2 shards are not done: ['{out / 'logdir/output.2'}']"):
        _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--merge", "true")


def decode_model_replaced(ctx: Ctx) -> None:
    model = ctx.tmp / "model"
    model.mkdir()
    files = tuple(Path(shutil.copy(f, model)) for f in ctx.model_files)
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=3), ctx.tmp / "decode"
    _decode(ctx, files, test_set, out, "--nj", "2")
    shutil.copyfile(write_tiny_model(ctx.tmp / "other", seed=1)[1], files[1])  # new weights, same path
    calls = count_decodes(ctx)
    [summary] = _decode(ctx, files, test_set, out, "--nj", "2")
    for job in (1, 2):
        assert f"{out}/logdir/output.{job} was decoded from other inputs (changed: model); decoding it again" \
            in ctx.caplog.text
    assert len(calls) == 3 and summary["settings"]["inputs"] == json.loads((out / "logdir/output.1/done")
                                                                           .read_text())["inputs"]


def decode_other_settings(ctx: Ctx) -> None:
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=2), ctx.tmp / "decode"
    _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1")
    done = out / "logdir/output.1/done"
    before = done.read_text()
    calls = count_decodes(ctx)
    with raises(ValueError, f"{done} was decoded with other settings {{'beam_size': (2, 3)}} (old, new); remove"):
        _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1", "--beam_size", "3")
    assert calls == [] and done.read_text() == before


def run_sh_stage(number: int) -> str:
    """The body of ``if run_stage N; then ... fi`` in the recipe's run.sh."""
    text = (RECIPE / "run.sh").read_text(encoding="utf-8")
    found = re.search(rf"^if run_stage {number}; then\n(.*?)^fi$", text, re.S | re.M)
    assert found, f"run.sh has no stage {number}"
    return found.group(1)


def run_sh_function(name: str) -> str:
    """The body of the shell function ``name() { ... }`` in the recipe's run.sh."""
    text = (RECIPE / "run.sh").read_text(encoding="utf-8")
    found = re.search(rf"^{name}\(\) {{\n(.*?)^}}$", text, re.S | re.M)
    assert found, f"run.sh has no function {name}"
    return found.group(1)


def finetune_resumes(ctx: Ctx) -> None:
    assert 'train "${train_config}" "${stats_dir}" "${s2t_exp}"' in run_sh_stage(11)
    train = run_sh_function("train")  # stage 11 (and static pruning's stage 7) train through it
    assert "python -m espnet2.bin.s2t_train" in train
    assert '--resume true --output_dir "${exp}"' in train


def stage11_lookup_fails(ctx: Ctx) -> None:
    assert "--print model_file" in run_sh_stage(11)
    zoo = ctx.zoo_copy()
    bpe = next(zoo.rglob("bpe.model"))
    bpe.unlink()
    with raises(model_zoo.ModelZooError, f"model-zoo directory {zoo} is incomplete", str(bpe)):
        model_zoo_command.main(["--pretrained_model", str(zoo), "--print", "model_file"])




# ==================================================================== the experiment grid


def grid_exp_dir_from_another_spec(ctx: Ctx) -> None:
    from espnet_dynprune.recipe import grid

    recipe = Path(shutil.copytree(RECIPE / "conf", ctx.tmp / "conf")).parent
    setups, experiments = grid.expand(recipe / "conf" / "paper_grid.yaml", recipe)
    dense = next(e for e in experiments if e.name == "dense")
    (recipe / "exp" / "dense").mkdir(parents=True)
    (recipe / "exp" / "dense" / grid.SPEC).write_text(json.dumps(dense.meta()))
    conf = recipe / "conf" / "finetune_dense.yaml"
    conf.write_text(conf.read_text().replace("max_epoch: 5", "max_epoch: 7"))
    _, experiments = grid.expand(recipe / "conf" / "paper_grid.yaml", recipe)
    runner = grid.Runner(recipe, recipe / "results" / "raw", jobs=1, threads=1, dry_run=True)
    with raises(ValueError, "exp/dense was made from another spec", "remove exp/dense"):
        runner.run_all(setups, [e for e in experiments if e.name == "dense"])


def grid_unknown_key(ctx: Ctx) -> None:
    from espnet_dynprune.recipe import grid

    bad = ctx.tmp / "grid.yaml"
    bad.write_text("experiments:\n- {name: x, table: t, method: m, part: both, sparsity: 0.5}\n")
    with raises(ValueError, "grid.yaml: experiment 'x': unknown keys ['sparsity']"):
        grid.expand(bad, ctx.tmp)


def decode_bad_pattern_file(ctx: Ctx) -> None:
    pattern = ctx.tmp / "pattern.json"
    pattern.write_text('{"encoder": {"layer0.ffn1": "yes"}}')
    with raises(ValueError, "gate pattern file", "pattern.json must map each part to {gate: true|false}"):
        decode.parse_gates(str(pattern))
