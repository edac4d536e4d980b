"""FLEURS reader (ASR/ST targets, the join on id, shared ids, skips) and writer (text columns)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from espnet_dynprune.corpora import fleurs as fl
from espnet_dynprune.corpora.fleurs import read_fleurs, read_split, read_tsv
from tests.builders.corpus_files import make_fleurs_split


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "fleurs"
    rows = [
        ("7", "111.wav", "Jó napot, Budapest."),
        ("7", "222.wav", "Jó napot, Budapest."),  # same sentence, another reader
        ("9", "333.wav", "Nincs angol."),  # id absent from en_us
        ("8", "444.wav", ""),  # empty
    ]
    make_fleurs_split(root, "hu_hu", "train", rows)
    (root / "hu_hu/audio/train/444.wav").unlink()
    english = [("7", "900.wav", "Good day, Budapest."), ("7", "901.wav", "Good day, Budapest!")]
    make_fleurs_split(root, "en_us", "train", english)
    return root


def test_asr_and_st_targets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        utts = read_split(_root(tmp_path), "hu", "train", ["asr", "st_eng"])
    by_id = {u.utt_id: u for u in utts}
    assert sorted(by_id) == [
        "fleurs.hun.111-7_asr",
        "fleurs.hun.111-7_st_eng",
        "fleurs.hun.222-7_asr",
        "fleurs.hun.222-7_st_eng",
        "fleurs.hun.333-9_asr",
    ]
    assert by_id["fleurs.hun.111-7_asr"].text == "<hun><asr><notimestamps> jó napot budapest"
    st = by_id["fleurs.hun.222-7_st_eng"]
    assert st.target_text == "Good day, Budapest." and st.source_text == "jó napot budapest"
    assert st.speaker == "fleurs.hun.222" and st.segment is None and st.duration == 1.0
    assert by_id["fleurs.hun.111-7_asr"].wav == by_id["fleurs.hun.111-7_st_eng"].wav
    assert "skipped 1 of 4 rows" in caplog.text and "id not in the English tsv (st_eng example dropped)" in caplog.text
    assert "empty transcription (first: id 8)" in caplog.text


def test_no_english_file_means_asr_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _root(tmp_path)
    (root / "en_us/train.tsv").unlink()
    with caplog.at_level(logging.WARNING):
        utts = read_split(root, "hu", "train", ["asr", "st_eng"])
    assert {u.task for u in utts} == {"asr"} and "gets no ST examples" in caplog.text


def test_missing_audio_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _root(tmp_path)
    (root / "hu_hu/audio/train/111.wav").unlink()
    with caplog.at_level(logging.WARNING):
        utts = read_split(root, "hu", "train", ["asr"])
    assert len(utts) == 2 and "audio file missing" in caplog.text


def test_bad_tsv_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text("1\ta.wav\tText\ttext\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.tsv:1: expected 7"):
        read_tsv(path)


def test_missing_split_and_root(tmp_path: Path) -> None:
    root = _root(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"hu_hu/dev\.tsv"):
        read_fleurs(root, ["hu"], ["asr"])
    with pytest.raises(FileNotFoundError, match="FLEURS in db.sh"):
        read_fleurs(tmp_path / "nowhere", ["hu"], ["asr"])


def test_fleurs_text_columns() -> None:
    assert fl.chars("le rapport") == "l e | r a p p o r t"
    assert fl.raw_transcription("съветът приема доклада") == "Съветът приема доклада."
    row = fl.FleursRow.from_text(12, "1.wav", "a tanács", 100, "FEMALE")
    assert row.tsv_line() == "12\t1.wav\tA tanács.\ta tanács\ta | t a n á c s\t100\tFEMALE\n"
    with pytest.raises(ValueError, match="gender='F'"):
        fl.FleursRow.from_text(12, "1.wav", "a tanács", 100, "F")


def test_written_rows_read_back(tmp_path: Path) -> None:
    rows = [fl.FleursRow.from_text(5, "1.wav", "a tanács", 100, "MALE")]
    path = fl.write_tsv(tmp_path, "hu_hu", "dev", rows)
    assert path == fl.tsv_path(tmp_path, "hu_hu", "dev") and read_tsv(path) == rows
    with pytest.raises(ValueError, match=r"1\.wav: transcription='a\\tb' must be one TSV field"):
        fl.FleursRow("5", "1.wav", "A b.", "a\tb", "a", 100, "MALE").tsv_line()
