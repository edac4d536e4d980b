"""Run an experiment grid (the paper's tables) through run.sh: resumable, in parallel, raw results kept.

``cd egs2/europarl_st/s2t1 && python -m espnet_dynprune.recipe.grid --grid conf/paper_grid.yaml
--raw_dir results/raw [--jobs 1] [--only 'dynprune_*'] [--dry_run true]``

Each experiment of the grid YAML (its keys are documented at its top) becomes one ``./run.sh``
call, logged to ``exp/grid_logs/<name>.log``. Data setups are prepared first (stages 1-5, once
each). When an experiment finishes, its decodes are collected into ``<raw_dir>/<name>.json``
(:mod:`espnet_dynprune.analysis.raw_results`): the file RESULTS.md is rendered from and the
marker that the experiment is done. A re-run skips every experiment whose raw file was made from
the same spec (a hash of the experiment, its data setup and the YAML files it reads) and resumes
the others where run.sh left them (training resumes, finished decode shards are skipped). An
``exp/<name>`` made from another spec is an error, never silently mixed.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import logging
import os
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml
from espnet2.utils.types import str2bool

from espnet_dynprune.analysis import raw_results
from espnet_dynprune.analysis.environment import machine
from espnet_dynprune.logs import configure_logging

KEYS = {"name", "table", "method", "part", "s2t_config", "prune_conf", "sweep", "static_prune_config",
        "inference_gates", "pretrained_only", "data"}
REQUIRED = ("name", "table", "method", "part")
SPEC = "grid_spec.json"
#: run.sh's lines the grid shows on its console, beside the log: the stages and each epoch's progress.
PROGRESS = re.compile(r"\(run\.sh:\d+\) Stage \d+:|^epoch \d+(/\d+ started| done:)|^training finished at")


@dataclass
class Experiment:
    """One expanded experiment: its run.sh options and what the results page needs to know."""

    name: str
    table: str
    method: str
    part: str
    data: str
    sparsity_target: Optional[float]
    run_args: List[str]
    spec: dict = field(repr=False)
    config_text: Optional[str] = field(default=None, repr=False)  # the derived fine-tuning YAML
    lock: Optional[str] = None  # experiments with the same lock run one after the other

    @property
    def spec_hash(self) -> str:
        return hashlib.sha1(json.dumps(self.spec, sort_keys=True).encode()).hexdigest()[:16]

    def meta(self) -> dict:
        return {"name": self.name, "table": self.table, "method": self.method, "part": self.part,
                "data": self.data, "sparsity_target": self.sparsity_target, "spec_hash": self.spec_hash}


def _text(recipe: Path, rel: str, where: str) -> str:
    path = recipe / rel
    if not path.is_file():
        raise FileNotFoundError(f"{where}: {rel} does not exist (relative to {recipe})")
    return path.read_text(encoding="utf-8")


def _options(options: Dict[str, object]) -> List[str]:
    return [arg for k, v in options.items() for arg in (f"--{k}", str(v))]


def expand(grid_file: Path, recipe: Path) -> Tuple[Dict[str, dict], List[Experiment]]:
    """The grid's data setups and its experiments in run order (round-robin over sweep values)."""
    grid = yaml.safe_load(grid_file.read_text(encoding="utf-8"))
    if not isinstance(grid, dict) or not isinstance(grid.get("experiments"), list):
        raise ValueError(f"{grid_file} must have an 'experiments' list")
    setups = grid.get("data") or {"epst": {}}
    rounds: List[List[Experiment]] = []
    for i, entry in enumerate(grid["experiments"]):
        where = f"{grid_file}: experiment {entry.get('name', i)!r}"
        unknown = set(entry) - KEYS
        missing = [k for k in REQUIRED if k not in entry]
        if unknown or missing:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)} / missing keys {missing}; keys: {sorted(KEYS)}")
        data = entry.get("data", "epst")
        if data not in setups:
            raise ValueError(f"{where}: data {data!r} is not a setup of 'data': {sorted(setups)}")
        sweep = entry.get("sweep") or [None]
        for r, target in enumerate(sweep):
            if r == len(rounds):
                rounds.append([])
            rounds[r].append(_experiment(entry, data, setups[data], target, recipe, where))
    experiments = [e for r in rounds for e in r]
    names = [e.name for e in experiments]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    reserved = sorted({n for n in names if f"{n}.json" in (raw_results.MANIFEST, raw_results.TIMING)})
    if duplicated or reserved:
        raise ValueError(f"{grid_file}: experiment names {duplicated} occur twice / {reserved} are reserved")
    return setups, experiments


def _experiment(entry: dict, data: str, setup: dict, target: Optional[float], recipe: Path,
                where: str) -> Experiment:
    name = entry["name"] if target is None else f"{entry['name']}_{target}"
    exp = f"exp/{name}"
    spec = {"entry": entry, "target": target, "setup": setup}
    config_text = None
    if entry.get("pretrained_only"):
        args = [*_options(setup), "--stage", "12", "--stop_stage", "13", "--s2t_exp", exp,
                "--pretrained_exp", exp, "--inference_gates", "", "--decode_pretrained", "true"]
    else:
        args = [*_options(setup), "--s2t_exp", exp, "--decode_pretrained", "false"]
        if "s2t_config" not in entry:
            raise ValueError(f"{where}: needs s2t_config (or pretrained_only: true)")
        base = yaml.safe_load(_text(recipe, entry["s2t_config"], where))
        prune_conf = {**(base.get("prune_conf") or {}), **(entry.get("prune_conf") or {})}
        if target is not None:
            prune_conf["sparsity_target"] = target
        if prune_conf:
            base["prune_conf"] = prune_conf
        config_text = f"# {name}: {entry['s2t_config']} with the grid's prune_conf\n" + yaml.safe_dump(base, sort_keys=False)
        spec["config"] = config_text
        args += ["--stage", "10", "--s2t_config", f"exp/grid_confs/{name}.yaml",
                 "--inference_gates", str(entry.get("inference_gates", "predicted"))]
        static = entry.get("static_prune_config")
        if static:
            spec["static_prune_config"] = _text(recipe, static, where)
            args[args.index("--stage") + 1] = "6"
            args += ["--static_prune_config", static]
    return Experiment(name, entry["table"], entry["method"], entry["part"], data, target, args, spec,
                      config_text, lock=entry.get("static_prune_config"))


class Runner:
    """Runs experiments with ``jobs`` in parallel, ``threads`` torch threads each."""

    def __init__(self, recipe: Path, raw_dir: Path, jobs: int, threads: int, dry_run: bool = False) -> None:
        self.recipe, self.raw_dir, self.jobs, self.threads, self.dry_run = recipe, raw_dir, jobs, threads, dry_run
        self.locks: Dict[str, threading.Lock] = {}

    def run_sh(self, args: List[str], log: Path, threads: Optional[int] = None) -> None:
        threads = str(threads or self.threads)
        command = ["./run.sh", *args, "--nj", threads, "--train_threads", threads]
        logging.info(f"{' '.join(repr(a) if not a or ' ' in a else a for a in command)}  > {log}")
        if self.dry_run:
            return
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as out:
            proc = subprocess.Popen(command, cwd=self.recipe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace")
            for line in proc.stdout:  # all of it to the log; the stages and training progress to the console too
                out.write(line)
                if PROGRESS.search(line):
                    logging.info(f"{log.stem}: {line.strip()}")
            returncode = proc.wait()
        if returncode:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            raise RuntimeError(f"run.sh exited with {returncode}; see {log}; its end:\n" + "\n".join(tail))

    def prepare(self, name: str, setup: dict) -> None:
        """Stages 1-5 of a data setup with all cores, once: a marker holds the setup it was made for."""
        done = self.recipe / "exp" / "grid_logs" / f"data_{name}.done"
        stamp = json.dumps(setup, sort_keys=True)
        train = self.recipe / str(setup.get("dumpdir", "dump")) / "raw" / "train" / "wav.scp"
        if done.is_file() and done.read_text(encoding="utf-8") == stamp and train.is_file():
            logging.info(f"data setup {name} is prepared ({done}); skipping stages 1-5")
            return
        self.run_sh([*_options(setup), "--stage", "1", "--stop_stage", "5"], done.with_suffix(".log"),
                    threads=self.threads * self.jobs)
        if not self.dry_run:
            done.write_text(stamp, encoding="utf-8")

    def is_done(self, e: Experiment) -> bool:
        raw = self.raw_dir / f"{e.name}.json"
        return raw.is_file() and json.loads(raw.read_text(encoding="utf-8"))["meta"]["spec_hash"] == e.spec_hash

    def check_exp_dir(self, e: Experiment) -> None:
        spec_file = self.recipe / "exp" / e.name / SPEC
        if spec_file.is_file():
            made_from = json.loads(spec_file.read_text(encoding="utf-8"))["spec_hash"]
            if made_from != e.spec_hash:
                raise ValueError(f"exp/{e.name} was made from another spec ({spec_file}: {made_from}, the grid now "
                                 f"says {e.spec_hash}): remove exp/{e.name} (and its _stats) to run it again")

    def run(self, e: Experiment) -> None:
        self.check_exp_dir(e)
        start = time.time()
        exp = self.recipe / "exp" / e.name
        # resumed: an earlier, interrupted attempt did part of the work, so wall_seconds is this attempt's only
        resumed = any(exp.glob("*.pth"))
        if not self.dry_run:
            exp.mkdir(parents=True, exist_ok=True)
            (exp / SPEC).write_text(json.dumps(e.meta(), indent=1) + "\n", encoding="utf-8")
            if e.config_text is not None:
                conf = self.recipe / "exp" / "grid_confs" / f"{e.name}.yaml"
                conf.parent.mkdir(parents=True, exist_ok=True)
                conf.write_text(e.config_text, encoding="utf-8")
        lock = self.locks.setdefault(e.lock, threading.Lock()) if e.lock else threading.Lock()
        with lock:
            self.run_sh(e.run_args, self.recipe / "exp" / "grid_logs" / f"{e.name}.log")
        if self.dry_run:
            return
        record = raw_results.collect_experiment(exp,
                                                {**e.meta(), "wall_seconds": round(time.time() - start, 1),
                                                 "resumed": resumed, "threads": self.threads,
                                                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                 "environment": machine()})
        raw_results.write(record, self.raw_dir, self.recipe)
        logging.info(f"{e.name}: done in {time.time() - start:.0f} s -> {self.raw_dir / (e.name + '.json')}")

    def run_all(self, setups: Dict[str, dict], experiments: List[Experiment]) -> List[str]:
        """Run what is not done; return the names that failed."""
        todo = [e for e in experiments if not self.is_done(e)]
        logging.info(f"{len(experiments) - len(todo)} of {len(experiments)} experiments are done; running {len(todo)}")
        for e in todo:
            self.check_exp_dir(e)  # before hours of work, not after
        for name in dict.fromkeys(e.data for e in todo):
            self.prepare(name, setups[name])
        failed = []

        def one(e: Experiment) -> None:
            try:
                self.run(e)
            except Exception as error:  # one failure must not stop the others
                logging.error(f"{e.name} failed: {error}")
                failed.append(e.name)

        with ThreadPoolExecutor(self.jobs) as pool:
            list(pool.map(one, todo))
        return failed


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", type=Path, default=Path("conf/paper_grid.yaml"), help="relative to the recipe")
    parser.add_argument("--recipe_dir", type=Path, default=Path("."), help="the dir holding run.sh")
    parser.add_argument("--raw_dir", type=Path, default=Path("results/raw"), help="relative to the recipe")
    parser.add_argument("--jobs", type=int, default=1,
                        help="experiments at once, each with cores // jobs threads (on 2 cores, one 2-thread "
                             "training beat two 1-thread ones side by side)")
    parser.add_argument("--only", nargs="+", default=None, help="fnmatch patterns of experiment names")
    parser.add_argument("--dry_run", type=str2bool, default=False)
    args = parser.parse_args(argv)
    configure_logging()
    recipe = args.recipe_dir.resolve()
    cores = len(os.sched_getaffinity(0))
    jobs = max(1, min(args.jobs, cores))
    setups, experiments = expand(recipe / args.grid, recipe)
    raw_results.write_manifest(recipe / args.raw_dir, str(args.grid), [e.meta() for e in experiments])
    if args.only:
        experiments = [e for e in experiments if any(fnmatch.fnmatch(e.name, p) for p in args.only)]
        if not experiments:
            parser.error(f"--only {args.only} matches no experiment of {args.grid}")
    runner = Runner(recipe, recipe / args.raw_dir, jobs, max(1, cores // jobs), args.dry_run)
    failed = runner.run_all(setups, experiments)
    if failed:
        raise SystemExit(f"{len(failed)} experiment(s) failed: {failed} (logs: exp/grid_logs/)")
    return [e.name for e in experiments]


if __name__ == "__main__":
    main()
