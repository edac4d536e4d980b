"""speech_length guard: S2TPreprocessor would trim longer utterances silently."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_dynprune.zoo.check_lengths import check_lengths


def _setup(tmp_path: Path, samples: dict, speech_length: float = 2.0) -> tuple:
    d = tmp_path / "dump"
    d.mkdir()
    (d / "utt2num_samples").write_text("".join(f"{u} {n}\n" for u, n in samples.items()))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"preprocessor_conf": {"speech_length": speech_length, "fs": 16000}}))
    return config, d


def test_returns_the_longest_duration(tmp_path: Path) -> None:
    config, d = _setup(tmp_path, {"a": 16000, "b": 24000})
    assert check_lengths(config, [d]) == pytest.approx(1.5)


def test_too_long_utterance_is_named(tmp_path: Path) -> None:
    config, d = _setup(tmp_path, {"a": 16000, "long_one": 40000})
    with pytest.raises(ValueError, match=r"long_one lasts 2.50 s, longer than speech_length=2.0"):
        check_lengths(config, [d])
