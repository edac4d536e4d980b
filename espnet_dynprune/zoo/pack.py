"""Pack a trained S2T experiment into a model-zoo directory (the layout OWSM ships in).

Why not ESPnet's ``espnet2.bin.pack``: it writes a zip whose config keeps the paths of the
training run and whose weights stay fp32; we ship small models in git as a plain directory
that works from inside itself and reads back with :class:`~espnet_dynprune.zoo.model_zoo.ModelZooDir`::

    DIR/meta.yaml
    DIR/exp/<exp name>/config.yaml          (paths relative to DIR)
    DIR/exp/<exp name>/<model file>         (state dict only; fp16 with --half true)
    DIR/data/token_list/<token dir>/{bpe.model,tokens.txt}
    DIR/exp/<stats dir>/train/feats_stats.npz

Relative paths in the source config are taken relative to the current directory (where
s2t_train ran), as ESPnet does. ``--half true`` stores floating weights as fp16 except the
front end's and normalizer's buffers, which are tiny and would shift every feature; ESPnet
and :meth:`ModelZooDir.state_dict` upcast on load.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import yaml

from espnet_dynprune.zoo.model_zoo import (
    CONFIG_KEY,
    FULL_PRECISION_PREFIXES,
    MODEL_FILE_KEY,
    ModelZooDir,
    ModelZooError,
    get_dotted,
)

PathLike = Union[str, Path]
# Read by S2TTask.build_model and Speech2Text; s2t_train's config.yaml has them all.
BUILD_KEYS = (
    "input_size", "frontend", "frontend_conf", "specaug", "specaug_conf", "normalize", "normalize_conf",
    "preencoder", "preencoder_conf", "encoder", "encoder_conf", "postencoder", "postencoder_conf",
    "decoder", "decoder_conf", "ctc_conf", "model", "model_conf", "init", "token_list", "token_type",
    "bpemodel", "preprocessor_conf",
)  # fmt: skip


def _source(value: Any, key: str, config: Path, problems: List[str]) -> Optional[Path]:
    """An existing source file named by config ``key``, or None (recording a problem)."""
    if not isinstance(value, str):
        return None
    path = Path(os.path.abspath(value))
    if not path.is_file():
        problems.append(f"{key}: {value!r} in {config} does not exist (looked at {path})")
        return None
    return path


@dataclass
class _Sources:
    """The files of a trained experiment that go into the package (None: not used)."""

    token_file: Optional[Path]
    bpemodel: Optional[Path]
    nlsyms: Optional[Path]
    stats: Optional[Path]


def _find_sources(
    config: Dict[str, Any], config_path: Path, model_path: Path, stats_file: Optional[PathLike]
) -> _Sources:
    """Locate every source file; raise one :class:`ModelZooError` listing all problems."""
    problems: List[str] = []
    absent = [k for k in BUILD_KEYS if k not in config]
    if absent:
        problems.append(f"{config_path} lacks {', '.join(absent)}: pack the config.yaml that s2t_train wrote")
    if not model_path.is_file():
        problems.append(f"s2t_model_file {model_path} does not exist")
    if not isinstance(config.get("token_list"), (str, list)):
        problems.append(f"token_list: {config_path} has none (a file name or a list)")
    normalize = config.get("normalize")
    stats_value = str(stats_file) if stats_file is not None else get_dotted(config, "normalize_conf.stats_file")
    if normalize == "global_mvn" and stats_value is None:
        problems.append(f"stats_file: {config_path} has normalize: global_mvn but no stats file; pass --stats_file")
    if stats_value is not None and normalize != "global_mvn":
        problems.append(f"stats_file given but {config_path} has normalize: {normalize!r}, not global_mvn")
    sources = _Sources(
        token_file=_source(config.get("token_list"), "token_list", config_path, problems),
        bpemodel=_source(config.get("bpemodel"), "bpemodel", config_path, problems),
        nlsyms=_source(config.get("non_linguistic_symbols"), "non_linguistic_symbols", config_path, problems),
        stats=_source(stats_value, "stats_file", config_path, problems),
    )
    if problems:
        raise ModelZooError(f"cannot pack {config_path} (problems: {len(problems)}):\n  " + "\n  ".join(problems))
    return sources


def _copy_sources(config: Dict[str, Any], sources: _Sources, root: Path) -> None:
    """Copy the sources under ``root`` and point ``config`` at them, DIR-relative."""
    named = sources.bpemodel or sources.token_file
    token_dir = Path("data/token_list") / (named.parent.name if named is not None else "tokens")
    if sources.token_file is not None:
        config["token_list"] = _copy(sources.token_file, root, token_dir / sources.token_file.name)
    else:  # inline list: write the file the model-zoo layout has
        (root / token_dir).mkdir(parents=True, exist_ok=True)
        (root / token_dir / "tokens.txt").write_text("\n".join(map(str, config["token_list"])) + "\n", encoding="utf-8")
        config["token_list"] = (token_dir / "tokens.txt").as_posix()
    if sources.bpemodel is not None:
        config["bpemodel"] = _copy(sources.bpemodel, root, token_dir / sources.bpemodel.name)
    if sources.nlsyms is not None:
        config["non_linguistic_symbols"] = _copy(sources.nlsyms, root, Path("data") / sources.nlsyms.name)
    if sources.stats is not None:  # exp/<stats dir>/train/feats_stats.npz
        stats_file = _copy(sources.stats, root, Path("exp", *sources.stats.parts[-3:]))
        config["normalize_conf"] = {**(config.get("normalize_conf") or {}), "stats_file": stats_file}


def _copy(src: Path, root: Path, rel: Path) -> str:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, root / rel)
    return rel.as_posix()


def _write_yaml(path: Path, data: Dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _versions() -> Dict[str, str]:
    import espnet
    import torch

    import espnet_dynprune

    return {
        "python": sys.version,
        "torch": str(torch.__version__),
        "espnet": str(espnet.__version__),
        "espnet_dynprune": espnet_dynprune.__version__,
    }


def _write_weights(src: Path, dst: Path, half: bool) -> None:
    import torch

    from espnet_dynprune.nets.checkpoint import read_state

    state = read_state(src)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelZooError(f"{src} is not a state dict of tensors (pass the averaged *.pth, not checkpoint.pth)")
    if half:
        state = {
            k: v.half() if v.is_floating_point() and not k.startswith(FULL_PRECISION_PREFIXES) else v
            for k, v in state.items()
        }
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dst)


def pack(
    s2t_train_config: PathLike,
    s2t_model_file: PathLike,
    output_dir: PathLike,
    stats_file: Optional[PathLike] = None,
    half: bool = False,
    provenance: Optional[str] = None,
) -> ModelZooDir:
    """Write the model-zoo layout to ``output_dir`` (new or empty) and read it back.

    ``stats_file`` defaults to the config's ``normalize_conf.stats_file``; ``provenance``
    (free text: the command and config that produced the model) goes into meta.yaml.
    """
    config_path = Path(os.path.abspath(s2t_train_config))
    model_path = Path(os.path.abspath(s2t_model_file))  # keeps ESPnet's symlink name
    root = Path(os.path.abspath(output_dir))
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"output_dir {root} is not empty; remove it or choose another")
    config: Dict[str, Any] = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ModelZooError(f"{config_path} is not a YAML mapping")
    sources = _find_sources(config, config_path, model_path, stats_file)

    root.mkdir(parents=True, exist_ok=True)
    _copy_sources(config, sources, root)
    exp = Path("exp") / config_path.parent.name
    (root / exp).mkdir(parents=True, exist_ok=True)
    _write_yaml(root / exp / "config.yaml", config)
    _write_weights(model_path, root / exp / model_path.name, half)
    meta: Dict[str, Any] = {
        "files": {MODEL_FILE_KEY: (exp / model_path.name).as_posix()},
        "yaml_files": {CONFIG_KEY: (exp / "config.yaml").as_posix()},
        "timestamp": time.time(),
        **_versions(),
        "dtype": "float16" if half else "float32",
    }
    if provenance:
        meta["provenance"] = provenance
    _write_yaml(root / "meta.yaml", meta)
    logging.info("packed %s and %s into %s", config_path, model_path, root)
    return ModelZooDir.load(root)
