"""Corpus readers' input checks: a missing root names its db.sh variable, dropped items are counted and logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from espnet_dynprune.corpora.checks import Skips, require_root


def test_a_root_is_made_absolute_and_a_missing_one_names_the_db_sh_variable(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "fleurs").mkdir()
    monkeypatch.chdir(tmp_path)
    assert require_root("fleurs", "FLEURS", "FLEURS") == tmp_path / "fleurs"  # wav.scp works from anywhere
    with pytest.raises(FileNotFoundError, match=r"^Europarl-ST root 'v1\.1' is not a directory; set EUROPARL_ST in "
                                                r"db\.sh to the corpus root$"):
        require_root("v1.1", "Europarl-ST", "EUROPARL_ST")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(FileNotFoundError, match="root 'file' is not a directory"):
        require_root(Path("file"), "VoxForge", "VOXFORGE")


def test_skips_are_counted_per_reason_and_logged_with_the_first_example(caplog: pytest.LogCaptureFixture) -> None:
    skips = Skips("segments of fr/en/train")
    skips.add("empty transcript", "u7")
    skips.add("missing audio", "talk3.m4a", count=4)
    skips.add("empty transcript", "u9")
    assert skips.count == 6 and skips.by_reason == {"empty transcript": (2, "u7"), "missing audio": (4, "talk3.m4a")}
    with caplog.at_level(logging.WARNING):
        skips.log(total=120)
        Skips("rows of hu_hu/test").log(total=5)  # nothing dropped: nothing logged
    assert [r.getMessage() for r in caplog.records] == [
        "skipped 2 of 120 segments of fr/en/train: empty transcript (first: u7)",
        "skipped 4 of 120 segments of fr/en/train: missing audio (first: talk3.m4a)",
    ]
