"""Train and decode a tiny OWSM-architecture model with ESPnet's own entry points.

Why: it proves that a data dir + token list from :mod:`espnet_dynprune.data.tiny_corpus` runs
through the real ``espnet2.bin.s2t_train`` (collect-stats, then training) and
``espnet2.bin.s2t_inference.Speech2Text``, in about a minute on 2 CPU cores; and it is the
harness the dynamic-pruning model reuses with its own config names
(:func:`~espnet_dynprune.data.s2t_config.write_s2t_config`) and its own ``entry_module``.

The command lines mirror s2t.sh stages 10-12 (shared/notes/espnet-recipes-and-europarl-st.md),
with absolute paths so the saved ``config.yaml`` works from any directory. Only :func:`decode`
imports ESPnet (in-process); the rest runs it as subprocesses.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import yaml

from espnet_dynprune.data.s2t_config import make_s2t_config, speech_length_for, write_s2t_config
from espnet_dynprune.recipe.data_args import data_args

__all__ = [
    "CorpusPaths", "Hypothesis", "TrainRun", "best_model_file", "collect_stats", "decode",
    "make_s2t_config", "read_epoch_results", "speech_length_for", "train", "write_s2t_config",
]  # fmt: skip

PathLike = Union[str, Path]
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # so subprocesses import this checkout


@dataclass
class CorpusPaths:
    """Where ESPnet finds a corpus: train/valid data dirs, bpe model and token list."""

    train: Path
    valid: Path
    bpemodel: Path
    token_list: Path

    @classmethod
    def from_corpus_dir(cls, corpus_dir: PathLike, *, train: str = "train", valid: str = "dev") -> "CorpusPaths":
        """Locate ``DIR/data/{train,dev}`` and the single ``DIR/data/token_list/bpe_*`` dir."""
        data = Path(corpus_dir).resolve() / "data"
        token_dirs = sorted((data / "token_list").glob("bpe_*"))
        if len(token_dirs) != 1:
            raise FileNotFoundError(f"expected exactly one {data}/token_list/bpe_* dir, found {token_dirs}")
        paths = cls(data / train, data / valid, token_dirs[0] / "bpe.model", token_dirs[0] / "tokens.txt")
        for p in (paths.train / "wav.scp", paths.valid / "wav.scp", paths.bpemodel, paths.token_list):
            if not p.exists():
                raise FileNotFoundError(f"{p} is missing; build the corpus with espnet_dynprune.data.tiny_corpus")
        return paths


@dataclass
class TrainRun:
    """Result of :func:`train`: where things are and how long each step took (seconds)."""

    exp_dir: Path
    config: Path
    model_file: Path
    stats_dir: Path
    seconds: Dict[str, float] = field(default_factory=dict)


def _common_args(config: Path, corpus: CorpusPaths, ngpu: int) -> List[str]:
    return [
        "--config", str(config),
        "--use_preprocessor", "true",
        "--token_type", "bpe",
        "--bpemodel", str(corpus.bpemodel),
        "--token_list", str(corpus.token_list),
        "--ngpu", str(ngpu),
        *data_args("train", corpus.train),
        *data_args("valid", corpus.valid),
    ]  # fmt: skip


def _run(
    cmd: List[str], log: Path, what: str, timeout_s: Optional[float], env: Optional[Mapping[str, str]]
) -> float:
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), full_env.get("PYTHONPATH")) if p)
    full_env.setdefault("PYTHONIOENCODING", "UTF-8")
    full_env.update(env or {})
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as f:
        f.write("# " + " ".join(cmd) + "\n")
        f.flush()
        try:
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=full_env, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{what} did not finish within timeout_s={timeout_s}; log: {log}") from exc
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{what} failed (rc={proc.returncode}); full log: {log}\n{tail}")
    return time.perf_counter() - start


def _shuffled_copy(src: Path, dst: Path, seed: int) -> Path:
    """UnsortedBatchSampler batches in key-file order; sorted ids would give one-speaker batches."""
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    random.Random(f"shape-{seed}").shuffle(lines)
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def _stats_fingerprint(config: Path, corpus: CorpusPaths) -> str:
    """What feats_stats.npz depends on: reusing stats across a change of n_mels gives a size
    mismatch in GlobalMVN (probe pitfall 2); other changes give silently wrong statistics."""
    cfg = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    keys: Dict[str, Any] = {k: cfg.get(k) for k in ("frontend", "frontend_conf", "preprocessor", "preprocessor_conf")}
    for name in ("wav.scp", "utt2dur"):
        path = corpus.train / name
        keys[f"train/{name}"] = hashlib.sha1(path.read_bytes()).hexdigest() if path.exists() else None
    return yaml.safe_dump(keys, sort_keys=True)


def collect_stats(
    corpus: CorpusPaths,
    config: PathLike,
    stats_dir: PathLike,
    *,
    entry_module: str = "espnet2.bin.s2t_train",
    python: Optional[str] = None,
    timeout_s: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
) -> float:
    """s2t.sh stage 10 with one job: writes ``stats_dir/{train,valid}/{feats_stats.npz,*_shape}``.

    Runs on CPU like s2t.sh. Returns seconds taken. :func:`train` calls it when needed.
    """
    stats_dir = Path(stats_dir).resolve()
    cmd = [
        python or sys.executable, "-m", entry_module,
        "--collect_stats", "true",
        *_common_args(Path(config).resolve(), corpus, ngpu=0),
        "--train_shape_file", str(corpus.train / "wav.scp"),
        "--valid_shape_file", str(corpus.valid / "wav.scp"),
        "--output_dir", str(stats_dir),
    ]  # fmt: skip
    return _run(cmd, stats_dir / "collect_stats.log", f"collect_stats ({entry_module})", timeout_s, env)


def train(
    corpus_dir: PathLike,
    config: PathLike,
    exp_dir: PathLike,
    *,
    stats_dir: Optional[PathLike] = None,
    entry_module: str = "espnet2.bin.s2t_train",
    python: Optional[str] = None,
    ngpu: int = 0,
    resume: bool = True,
    seed: int = 0,
    extra_args: Sequence[str] = (),
    timeout_s: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
) -> TrainRun:
    """Collect stats (unless done for the same front end / preprocessor settings) and train.

    ``entry_module`` runs as ``python -m entry_module``; a plugin passes its own module that
    registers its classes before calling ESPnet's S2TTask. ``stats_dir`` defaults to
    ``<exp_dir>_stats``; ``extra_args`` are appended to the s2t_train command line (they win
    over the config); ``env`` adds environment variables (``OMP_NUM_THREADS``,
    ``CUDA_VISIBLE_DEVICES``). Logs: ``stats_dir/collect_stats.log`` and ``exp_dir/train.log``;
    on failure the error shows the log tail.
    """
    corpus = CorpusPaths.from_corpus_dir(corpus_dir)
    exp_dir = Path(exp_dir).resolve()
    stats = Path(stats_dir).resolve() if stats_dir is not None else exp_dir.parent / f"{exp_dir.name}_stats"
    config = Path(config).resolve()
    seconds: Dict[str, float] = {}
    fingerprint, marker = _stats_fingerprint(config, corpus), stats / "stats_config.yaml"
    stale = not marker.exists() or marker.read_text(encoding="utf-8") != fingerprint
    if stale or not (stats / "train" / "feats_stats.npz").exists():
        seconds["collect_stats"] = collect_stats(
            corpus, config, stats, entry_module=entry_module, python=python, timeout_s=timeout_s, env=env
        )
        marker.write_text(fingerprint, encoding="utf-8")
    train_keys = _shuffled_copy(stats / "train" / "speech_shape", stats / "train" / "speech_shape.shuffled", seed)
    cmd = [
        python or sys.executable, "-m", entry_module,
        *_common_args(config, corpus, ngpu),
        "--normalize", "global_mvn",
        "--normalize_conf", f"stats_file={stats / 'train' / 'feats_stats.npz'}",
        "--train_shape_file", str(train_keys),
        "--valid_shape_file", str(stats / "valid" / "speech_shape"),
        "--resume", "true" if resume else "false",
        "--output_dir", str(exp_dir),
        *extra_args,
    ]  # fmt: skip
    seconds["train"] = _run(cmd, exp_dir / "train.log", f"training ({entry_module})", timeout_s, env)
    return TrainRun(
        exp_dir=exp_dir,
        config=exp_dir / "config.yaml",
        model_file=best_model_file(exp_dir),
        stats_dir=stats,
        seconds=seconds,
    )


def best_model_file(exp_dir: PathLike) -> Path:
    """``valid.acc.ave.pth`` if ESPnet averaged, else ``valid.acc.best.pth``, else ``latest.pth``."""
    exp_dir = Path(exp_dir)
    for name in ("valid.acc.ave.pth", "valid.acc.best.pth", "latest.pth"):
        if (exp_dir / name).exists():
            return exp_dir / name
    raise FileNotFoundError(f"no model file (valid.acc.ave.pth / valid.acc.best.pth / latest.pth) in {exp_dir}")


_EPOCH_RE = re.compile(r"(\d+)epoch results: (.*)$")


def read_epoch_results(exp_dir: PathLike) -> List[Dict[str, Any]]:
    """Per-epoch stats from ``exp_dir/train.log``: ``[{"epoch": 1, "train": {...}, "valid": {...}}]``.

    Parses ESPnet's ``Nepoch results: [train] k=v, ... [valid] k=v, ...`` lines; numbers become
    floats, anything else (``time=2 minutes``) stays a string. After a resume the log is
    rewritten, so only the epochs of the last invocation are listed.
    """
    results = []
    log = Path(exp_dir) / "train.log"
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _EPOCH_RE.search(line)
        if not match:
            continue
        entry: Dict[str, Any] = {"epoch": int(match.group(1))}
        for phase, body in re.findall(r"\[(\w+)\] ([^\[]*)", match.group(2)):
            stats: Dict[str, Union[float, str]] = {}
            for key, value in re.findall(r"(\w+)=([^,]*)", body):
                try:
                    stats[key] = float(value)
                except ValueError:
                    stats[key] = value.strip()
            entry[phase] = stats
        results.append(entry)
    return results


@dataclass
class Hypothesis:
    """Best hypothesis for one wav: ``tokens`` start with the primer's lang/task/notime tokens."""

    wav: str
    text: str
    tokens: List[str]
    score: float


def _sym(value: str) -> str:
    return value if value.startswith("<") else f"<{value}>"


def decode(
    exp_dir: PathLike,
    wavs: Sequence[PathLike],
    lang_sym: str,
    task_sym: str,
    *,
    model_file: Optional[PathLike] = None,
    beam_size: int = 3,
    ctc_weight: float = 0.0,
    device: str = "cpu",
    import_modules: Sequence[str] = (),
) -> List[Hypothesis]:
    """Decode ``wavs`` with ESPnet's Speech2Text (in-process).

    ``lang_sym``/``task_sym`` accept ``fra`` or ``<fra>``. ``ctc_weight`` defaults to 0: for ST
    it must be 0 (CTC is trained on the source text) and for ASR the probe found 0 better.
    ``import_modules`` are imported first so a plugin can register its classes, because
    ``build_model_from_file`` looks up the names stored in ``config.yaml``.
    """
    for name in import_modules:
        importlib.import_module(name)
    from espnet2.bin.s2t_inference import Speech2Text

    from espnet_dynprune.data.espeak import read_wav

    exp_dir = Path(exp_dir)
    s2t = Speech2Text(
        s2t_train_config=str(exp_dir / "config.yaml"),
        s2t_model_file=str(model_file or best_model_file(exp_dir)),
        device=device,
        beam_size=beam_size,
        ctc_weight=ctc_weight,
        nbest=1,
        lang_sym=_sym(lang_sym),
        task_sym=_sym(task_sym),
    )
    out: List[Hypothesis] = []
    for wav in wavs:
        text, tokens, _, text_nospecial, hyp = s2t(read_wav(wav))[0]
        out.append(Hypothesis(wav=str(wav), text=text_nospecial, tokens=list(tokens), score=float(hyp.score)))
    return out
