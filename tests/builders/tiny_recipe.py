"""Tiny configs and a tiny trained model for the tests, made the way users make them.

Why here and not in the package: a config is the recipe's YAML template with sizes overridden
(``zoo.finetune_config.deep_merge``), and a trained model comes from the recipe's own scripts
(``local/pretrain_standin.sh`` = ``run.sh --pretrained_model none`` stages 1-11, then
``zoo.pack``) run on a copy of the recipe, so the tests exercise what users run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.recipe import model_zoo as model_zoo_command
from espnet_dynprune.zoo import model_zoo
from espnet_dynprune.zoo.finetune_config import deep_merge

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "europarl_st" / "s2t1"
#: conf/pretrain_standin.yaml shrunk to 32 dims and 2 + 2 blocks (seconds to build or train).
TINY_SIZES: Dict[str, Any] = {
    "encoder_conf": {"output_size": 32, "linear_units": 64, "cgmlp_linear_units": 64, "num_blocks": 2},
    "decoder_conf": {"linear_units": 64, "num_blocks": 2},
}


def tiny_config(*overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """The stand-in's training config at :data:`TINY_SIZES`, then ``overrides`` deep-merged in order."""
    config = yaml.safe_load((RECIPE / "conf" / "pretrain_standin.yaml").read_text(encoding="utf-8"))
    for extra in (TINY_SIZES, *overrides):
        deep_merge(config, extra)
    return config


def write_yaml(path: Path, config: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path


#: What the recipe made (corpus, dumps, experiments, stand-in, the committed grid's results),
#: relative to the recipe; a copy without them starts from scratch.
MADE_BY_THE_RECIPE = {"downloads", "data", "dump", "exp", "standin", "results/raw", "results/figures", "results/tables"}


def copy_recipe(dest: Path) -> Path:
    """The recipe's sources copied to ``dest``, without :data:`MADE_BY_THE_RECIPE`."""

    def ignore(folder: str, names: list) -> set:
        here = Path(folder).relative_to(RECIPE)
        return {n for n in names if (here / n).as_posix() in MADE_BY_THE_RECIPE}

    return Path(shutil.copytree(RECIPE, dest, ignore=ignore))


def recipe_env(env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``env`` (default: this one's) with this interpreter's venv first on PATH, as ``. path.sh`` would."""
    bindir = str(Path(sys.executable).parent)
    base = os.environ if env is None else env
    return {**base, "PATH": f"{bindir}{os.pathsep}{base['PATH']}", "VIRTUAL_ENV": sys.prefix}


def run_recipe(recipe: Path, *args: str, check: bool = True,
               env: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess:
    """Run a recipe script in ``recipe`` with this interpreter as ``python`` (``env``: the
    environment to start from, default this one's); with ``check``, a failure raises with the log tail."""
    proc = subprocess.run(args, cwd=recipe, env=recipe_env(env), capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@dataclass(frozen=True)
class TrainedModel:
    """A model trained and packed by the recipe, and where the recipe left its parts."""

    recipe: Path  # the recipe copy; relative paths in its files are relative to it
    exp_dir: Path  # s2t_train's output dir: config.yaml, train.log, *epoch.pth, valid.acc.ave.pth
    stats_dir: Path  # collect-stats output: train/feats_stats.npz, {train,valid}/speech_shape
    token_dir: Path  # stage 5: bpe.model, tokens.txt
    dump_dir: Path  # dump/raw: train, dev and the test sets
    zoo: model_zoo.ModelZooDir  # the packed (float16) model
    config: Path  # the zoo's config with absolute paths, decodable from anywhere

    def wavs(self, data_set: str) -> Dict[str, Path]:
        """``dump/raw/<data_set>/wav.scp`` with absolute paths."""
        return {utt: self.recipe / path for utt, path in read_map(self.dump_dir / data_set / "wav.scp").items()}


def train_with_recipe(
    root: Path, config: Mapping[str, Any], *, num_pieces: int, europarl_st_langs: str, mini_corpus_opts: str
) -> TrainedModel:
    """``local/pretrain_standin.sh`` with ``config`` on a mini corpus of Europarl-ST only, in a copy of the recipe."""
    recipe = copy_recipe(root / "s2t1")
    write_yaml(recipe / "conf" / "tiny.yaml", config)
    work = recipe / "exp" / "standin_pretrain"  # pretrain_standin.sh's default
    run_recipe(recipe, "./local/pretrain_standin.sh", "--config", "conf/tiny.yaml", "--num_pieces", str(num_pieces),
               "--europarl_st_langs", europarl_st_langs, "--fleurs_langs", "", "--mini_corpus_opts", mini_corpus_opts,
               "--out", "zoo")  # fmt: skip
    decode_config = recipe / "exp" / "zoo_config.yaml"
    model_zoo_command.main(["--pretrained_model", str(recipe / "zoo"), "--write_config", str(decode_config)])
    return TrainedModel(
        recipe=recipe,
        exp_dir=work / "train",
        stats_dir=work / "train_stats",
        token_dir=work / "data" / "token_list" / f"bpe_unigram{num_pieces}",
        dump_dir=work / "dump" / "raw",
        zoo=model_zoo.ModelZooDir.load(recipe / "zoo"),
        config=decode_config,
    )
