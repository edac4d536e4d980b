"""A released OWSM model in ESPnet's model-zoo layout, read from a local directory.

Why: a model-zoo directory (a Hugging Face snapshot of ``espnet/owsm_v3.1_ebf_base`` or an
unpacked ``s2t.sh --stage 14`` archive) stores its files in ``meta.yaml`` and its
``config.yaml`` with paths relative to the directory, so ESPnet only works when run from
inside it. :meth:`ModelZooDir.load` checks every file up front, reports *all* missing ones
in one error, and gives a config whose paths are absolute, usable from any directory::

    DIR/meta.yaml      files: {s2t_model_file: exp/.../*.pth}
                       yaml_files: {s2t_train_config: exp/.../config.yaml}
    DIR/exp/s2t_train_.../config.yaml, *.pth
    DIR/data/token_list/bpe_unigram50000/{bpe.model,tokens.txt}
    DIR/exp/s2t_stats_raw_bpe50000/train/feats_stats.npz

Config paths are resolved against DIR first; an absolute path is kept if it exists, else
its longest tail that exists under DIR is used (a config rewritten by espnet_model_zoo into
a cache directory that has since moved). The files a model needs (``token_list`` when it
is a file name, ``bpemodel``, ``non_linguistic_symbols``, ``normalize_conf.stats_file``)
must exist; other path-like values (the training data lists of the original run) are
resolved when they exist under DIR and left alone otherwise.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

import yaml

from espnet_dynprune.owsm.datadir import read_lines

if TYPE_CHECKING:
    import torch

PathLike = Union[str, Path]
MODEL_FILE_KEY = "s2t_model_file"
CONFIG_KEY = "s2t_train_config"
# (dotted config key, human description) of the files a model cannot be built without.
REQUIRED_PATHS: Tuple[Tuple[str, str], ...] = (
    ("token_list", "token list"),
    ("bpemodel", "sentencepiece model"),
    ("non_linguistic_symbols", "non-linguistic symbol list"),
    ("normalize_conf.stats_file", "feature statistics"),
)
# Feature-extraction buffers: tiny, and rounding them to fp16 would shift every feature.
FULL_PRECISION_PREFIXES = ("frontend.", "normalize.")


#: ModelZooDir fields that ``--print`` can show.
PRINTABLE = ("config", "model_file", "token_list", "bpemodel", "stats_file")


class ModelZooError(FileNotFoundError):
    """A model-zoo directory lacks files or keys; the message lists every problem."""


def get_dotted(config: Mapping[str, Any], dotted: str) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``; None where a level is missing."""
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _set(config: Dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = value


def _absolute(path: Path) -> Path:
    """Absolute and normalised, but symlinks kept: a Hugging Face snapshot links every file
    to a content-addressed blob without its name."""
    return Path(os.path.abspath(path))


def _candidates(value: str, root: Path) -> List[Path]:
    """Where a config path may be: DIR-relative, as given, then absolute tails under DIR."""
    path = Path(value)
    if not path.is_absolute():
        return [root / path]
    tails = [root.joinpath(*path.parts[i:]) for i in range(1, len(path.parts) - 1)]
    return [path, *tails]


def resolve_path(value: str, root: Path) -> Tuple[Optional[Path], List[Path]]:
    """The first existing candidate of :func:`_candidates` (or None) and all places tried."""
    tried = _candidates(value, root)
    found = next((p for p in tried if p.exists()), None)
    if found is not None and Path(value).is_absolute() and found != Path(value):
        logging.info("config path %s does not exist; using %s", value, found)
    return (_absolute(found) if found is not None else None), tried


def _looks_like_path(value: str) -> bool:
    return "/" in value or Path(value).suffix in {".txt", ".model", ".npz", ".scp", ".pth", ".yaml"}


def _resolve_optional(node: Any, root: Path) -> Any:
    """Recursively absolutise path-like strings that exist under ``root``."""
    if isinstance(node, dict):
        return {k: _resolve_optional(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_optional(v, root) for v in node]
    if isinstance(node, str) and _looks_like_path(node):
        found, _ = resolve_path(node, root)
        return str(found) if found is not None else node
    return node


def resolve_config(raw: Mapping[str, Any], root: Path, where: str) -> Tuple[Dict[str, Any], List[str]]:
    """``raw`` with absolute paths, and one line per required file that is missing.

    ``where`` names the config file in the messages.
    """
    config = {k: v if k == "token_list" else _resolve_optional(v, root) for k, v in raw.items()}
    problems: List[str] = []
    for key, what in REQUIRED_PATHS:
        value = get_dotted(raw, key)
        if not isinstance(value, str):  # unset, or token_list given inline as a list
            continue
        found, tried = resolve_path(value, root)
        if found is None:
            looked = ", ".join(str(p) for p in tried)
            problems.append(f"{what} {key}: {value!r} in {where} not found (looked at {looked})")
        else:
            _set(config, key, str(found))
    if raw.get("token_type") == "bpe" and not raw.get("bpemodel"):
        problems.append(f"sentencepiece model: {where} has token_type: bpe but no bpemodel")
    if raw.get("normalize") == "global_mvn" and not get_dotted(raw, "normalize_conf.stats_file"):
        problems.append(f"feature statistics: {where} has normalize: global_mvn but no normalize_conf.stats_file")
    if not isinstance(raw.get("token_list"), (str, list)):
        problems.append(f"token list: {where} has no token_list (a file name or a list)")
    return config, problems


def _read_yaml(path: Path) -> Dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ModelZooError(f"{path} is not a YAML mapping")
    return data


@dataclass(frozen=True)
class ModelZooDir:
    """A validated model-zoo directory; every path is absolute and exists.

    ``token_list`` is None when the config holds the tokens inline (ESPnet's own
    ``config.yaml`` does); :meth:`tokens` works either way. ``bpemodel`` is None for
    non-BPE models and ``stats_file`` when the model has no ``global_mvn``.
    """

    root: Path
    config: Path
    model_file: Path
    token_list: Optional[Path]
    bpemodel: Optional[Path]
    stats_file: Optional[Path]
    meta: Dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, path: PathLike) -> "ModelZooDir":
        """Read ``path/meta.yaml`` and its config; raise :class:`ModelZooError` listing
        every missing file or key (which one, and where it looked)."""
        root = _absolute(Path(path))
        meta_path = root / "meta.yaml"
        if not meta_path.is_file():
            raise ModelZooError(f"{meta_path} does not exist: {path} is not a model-zoo directory")
        meta = _read_yaml(meta_path)
        problems: List[str] = []
        entries = {}
        for section, key in (("files", MODEL_FILE_KEY), ("yaml_files", CONFIG_KEY)):
            value = get_dotted(meta, f"{section}.{key}")
            if not isinstance(value, str):
                problems.append(f"{meta_path} has no {section}.{key}")
                continue
            entries[key] = root / value
            if not entries[key].is_file():
                problems.append(f"{section}.{key} in {meta_path}: {entries[key]} does not exist")
        config_path = entries.get(CONFIG_KEY)
        resolved: Dict[str, Any] = {}
        if config_path is not None and config_path.is_file():
            resolved, config_problems = resolve_config(_read_yaml(config_path), root, str(config_path))
            problems += config_problems
        if problems:
            raise ModelZooError(
                f"model-zoo directory {root} is incomplete (problems: {len(problems)}):\n  " + "\n  ".join(problems)
            )
        token_list = resolved.get("token_list")
        return cls(
            root=root,
            config=_absolute(config_path),
            model_file=_absolute(entries[MODEL_FILE_KEY]),
            token_list=Path(token_list) if isinstance(token_list, str) else None,
            bpemodel=Path(resolved["bpemodel"]) if resolved.get("bpemodel") else None,
            stats_file=Path(s) if (s := get_dotted(resolved, "normalize_conf.stats_file")) else None,
            meta=meta,
        )

    def load_config(self) -> Dict[str, Any]:
        """The training config with every path made absolute (see the module docstring)."""
        config, problems = resolve_config(_read_yaml(self.config), self.root, str(self.config))
        if problems:
            raise ModelZooError(f"{self.config}: " + "; ".join(problems))
        return config

    def tokens(self) -> List[str]:
        """The token list in id order, from the file or the inline config list."""
        if self.token_list is not None:
            return [token.rstrip() for token in read_lines(self.token_list)]  # as ESPnet's tasks read it
        return [str(t) for t in self.load_config()["token_list"]]

    def state_dict(self, dtype: Optional[torch.dtype] = None) -> Dict[str, torch.Tensor]:
        """The weights; half-precision tensors (a ``--half`` pack) are cast to ``dtype``
        (default float32), others (fp32 weights, fp64 normaliser stats) kept as they are."""
        import torch

        from espnet_dynprune.nets.checkpoint import read_state

        state = read_state(self.model_file)
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ModelZooError(f"{self.model_file} is not a state dict of tensors (a training checkpoint?)")
        dtype = dtype or torch.float32
        half = (torch.float16, torch.bfloat16)
        return {k: v.to(dtype) if v.dtype in half else v for k, v in state.items()}
