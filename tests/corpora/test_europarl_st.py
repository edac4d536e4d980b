"""Europarl-ST reader (alignment checks, skips, ids and targets) and writers (segment files, m4a)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from espnet_dynprune.corpora.audio_io import decode
from espnet_dynprune.corpora.europarl_st import (
    EuroparlSegment,
    encode_m4a,
    read_europarl_st,
    read_segments,
    read_split,
    segment_files,
    write_split,
)
from tests.builders.corpus_files import make_europarl_split, needs_ffmpeg

ROWS = [
    ("fr.2008.3-14", 0.5, 1.5, "bonjour madame la présidente", "good morning madam president"),
    ("fr.2008.3-14", 1.6, 3.0, "merci", "thank you"),
    ("fr.2008.3-142", 0.0, 2.0, "", "empty transcript"),
    ("fr.2008.3-142", 2.0, 1.0, "à l'envers", "backwards"),
    ("fr.2008.3-142", 2.0, 3.9, "texte sans traduction", ""),
    ("fr.2008.3-142", 2.0, 3.9, "texte sans traduction", ""),
    ("missing", 0.0, 1.0, "pas d'audio", "no audio"),
]


def _root(tmp_path: Path) -> Path:
    # read_split only checks that audio files exist, so plain files stand in for the m4a here.
    root = tmp_path / "v1.1"
    make_europarl_split(root, "fr", "train", ROWS, audios={})
    (root / "fr" / "audios").mkdir()
    for audio_id in ("fr.2008.3-14", "fr.2008.3-142"):
        (root / "fr" / "audios" / f"{audio_id}.m4a").write_bytes(b"stand-in")
    return root


def test_reads_segments_and_skips_bad_ones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _root(tmp_path)
    with caplog.at_level(logging.WARNING):
        utts = read_split(root, "fr", "train", ["asr", "st_eng"])
    by_id = {u.utt_id: u for u in utts}
    assert sorted(by_id) == [
        "epst.fra.fr.2008.3.14-0000500_0001500_asr",
        "epst.fra.fr.2008.3.14-0000500_0001500_st_eng",
        "epst.fra.fr.2008.3.14-0001600_0003000_asr",
        "epst.fra.fr.2008.3.14-0001600_0003000_st_eng",
        "epst.fra.fr.2008.3.142-0002000_0003900_asr",
    ]
    st = by_id["epst.fra.fr.2008.3.14-0000500_0001500_st_eng"]
    assert st.text == "<fra><st_eng><notimestamps> good morning madam president"
    assert st.source_text == "bonjour madame la présidente"
    assert st.speaker == "epst.fra.fr.2008.3.14" and st.segment.rec_id == st.speaker
    assert (st.segment.start, st.segment.end) == (0.5, 1.5)
    assert st.wav.endswith("fr/audios/fr.2008.3-14.m4a") and Path(st.wav).is_absolute()
    log = caplog.text
    assert "skipped 1 of 7 segments of fr/en/train: end <= start" in log
    assert "skipped 1 of 7 segments of fr/en/train: audio file missing" in log
    assert "empty transcript in segments.fr" in log
    assert "repeats an earlier segment" in log
    assert "empty translation (st_eng example dropped)" in log


def test_asr_only(tmp_path: Path) -> None:
    utts = read_split(_root(tmp_path), "fr", "train", ["asr"])
    assert len(utts) == 3 and all(u.task == "asr" and u.target_text == u.source_text for u in utts)


def test_misaligned_files_name_all_three(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "fr/en/train/segments.en").write_text("one line\n", encoding="utf-8")
    expected = r"segments\.lst has 7 lines.*segments\.fr has 7 lines.*segments\.en has 1 lines"
    with pytest.raises(ValueError, match=expected):
        read_split(root, "fr", "train", ["asr"])


def test_bad_segment_line_names_file_and_line(tmp_path: Path) -> None:
    root = _root(tmp_path)
    lst = root / "fr/en/train/segments.lst"
    lst.write_text(lst.read_text().replace("0.50 1.50", "zero 1.50"))
    with pytest.raises(ValueError, match=r"segments\.lst:1: expected"):
        read_split(root, "fr", "train", ["asr"])


def test_missing_root_names_db_variable(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere.*EUROPARL_ST"):
        read_europarl_st(tmp_path / "nowhere", ["fr"], ["asr"])


def test_english_source_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="target language"):
        read_split(_root(tmp_path), "en", "train", ["asr"])


@needs_ffmpeg
def test_all_splits_with_real_m4a(tmp_path: Path) -> None:
    root = tmp_path / "v1.1"
    for split in ("train", "dev", "test"):
        rows = [(f"de.{split}", 0.0, 1.0, "guten tag", "good day")]
        make_europarl_split(root, "de", split, rows, {f"de.{split}": 1.2})
    splits = read_europarl_st(root, ["de"], ["asr", "st_eng"])
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "dev": 2, "test": 2}
    assert {u.lang for us in splits.values() for u in us} == {"deu"}


def test_written_segments_read_back(tmp_path: Path) -> None:
    segments = [EuroparlSegment("it.1-2", 0.25, 1.5, "buongiorno", "good morning")]
    assert write_split(tmp_path, "it", "dev", segments) == 1
    lst, transcripts, translations = segment_files(tmp_path, "it", "dev")
    assert lst.read_text() == "it.1-2 0.25 1.50\n" and transcripts.name == "segments.it" and translations.is_file()
    assert read_segments(tmp_path, "it", "dev") == segments
    with pytest.raises(ValueError, match=r"it\.1-2 0\.25: translation='good\\nmorning' spans lines"):
        write_split(tmp_path, "it", "dev", [EuroparlSegment("it.1-2", 0.25, 1.5, "buongiorno", "good\nmorning")])


@needs_ffmpeg
def test_encoded_m4a_is_aac_at_the_given_rate_and_bit_exact(tmp_path: Path) -> None:
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    encode_m4a(tone, tmp_path / "a" / "x.m4a", sample_rate=8000)
    encode_m4a(tone, tmp_path / "b" / "x.m4a", sample_rate=8000)
    assert (tmp_path / "a/x.m4a").read_bytes() == (tmp_path / "b/x.m4a").read_bytes()
    assert len(decode(str(tmp_path / "a/x.m4a"), 8000)) == pytest.approx(8000, abs=1024)  # 1 s (AAC frames)
