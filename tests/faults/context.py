"""What every fault scenario gets (:class:`Ctx`) and the assertions they share."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Tuple

import pytest

if TYPE_CHECKING:
    from espnet2.bin.s2t_inference import Speech2Text


# ==================================================================== what scenarios get


@dataclass
class Ctx:
    """What a scenario gets: a fresh dir, the log, monkeypatch, and the shared tiny models."""

    tmp: Path
    caplog: pytest.LogCaptureFixture
    monkeypatch: pytest.MonkeyPatch
    request: pytest.FixtureRequest

    @property
    def model_files(self) -> Tuple[Path, Path]:
        """(config.yaml, model.pth) of a tiny random dynprune model (made once per module)."""
        return self.request.getfixturevalue("tiny_model")

    @property
    def s2t(self) -> "Speech2Text":
        """ESPnet's Speech2Text on :attr:`model_files` (loaded once per module)."""
        return self.request.getfixturevalue("speech2text")

    @property
    def packed(self) -> Path:
        """A packed model-zoo dir (shared: do not change it)."""
        return self.request.getfixturevalue("packed")

    def zoo_copy(self) -> Path:
        """A copy of :attr:`packed` to damage."""
        return self.request.getfixturevalue("zoo_copy")


# ==================================================================== assertions


def assert_test_exists(node_id: str) -> None:
    """``tests/x/test_y.py::test_z`` names a test function (so a pointer cannot go stale)."""
    path, name = node_id.split("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, name, None)), f"{node_id} does not exist"


def assert_skipped(caplog: pytest.LogCaptureFixture, n: int, total: int, what: str, reason: str,
                   first: str = "") -> None:
    """The Skips line ``skipped N of M <what>: <reason> (first: <first>...`` was logged."""
    line = f"skipped {n} of {total} {what}: {reason} (first: {first}"
    assert line in caplog.text, f"no log line starting {line!r} in:\n{caplog.text}"


def raises(error: type, *parts: str) -> pytest.RaisesExc:
    """``pytest.raises(error)`` whose message must contain every one of ``parts``, in order."""
    return pytest.raises(error, match="(?s)" + ".*".join(map(re.escape, parts)))


