"""The s2t_train data arguments printed for run.sh."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.recipe.data_args import STREAMS, data_args, main


def _datadir(path: Path) -> Path:
    path.mkdir(parents=True)
    for fname, _, _ in STREAMS:
        (path / fname).write_text("u1 x\n")
    return path


def test_four_streams_with_espnet_names(tmp_path: Path) -> None:
    d = _datadir(tmp_path / "train")
    args = data_args("train", d)
    assert args[0::2] == ["--train_data_path_and_name_and_type"] * 4
    assert args[1::2] == [f"{d}/wav.scp,speech,sound", f"{d}/text,text,text",
                          f"{d}/text.prev,text_prev,text", f"{d}/text.ctc,text_ctc,text"]  # fmt: skip


def test_missing_file_is_named(tmp_path: Path) -> None:
    d = _datadir(tmp_path / "dev")
    (d / "text.ctc").unlink()
    with pytest.raises(FileNotFoundError, match="text.ctc"):
        data_args("valid", d)


def test_cli_prints_train_then_valid(tmp_path: Path, capsys) -> None:
    main(["--train", str(_datadir(tmp_path / "a")), "--valid", str(_datadir(tmp_path / "b"))])
    words = capsys.readouterr().out.split()
    assert len(words) == 16 and words[1].startswith(str(tmp_path / "a")) and words[9].startswith(str(tmp_path / "b"))
