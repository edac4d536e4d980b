"""Stage 4: the train/dev dump dirs keep only utterances within the length limits, and say what went."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from espnet_dynprune.corpora import filter_lengths as fl, format_audio as fa
from espnet_dynprune.owsm.datadir import Utterance, read_map, write_datadir
from tests.builders.corpus_files import needs_ffmpeg, write_tone


def _dump(tmp_path: Path) -> Path:
    """Stage 3 without limits, as run.sh formats train/dev into dump/raw/org."""
    utts = []
    for name, seconds in (("short", 0.05), ("ok", 1.0), ("long", 3.0)):
        wav = write_tone(tmp_path / f"audio/{name}.wav", seconds)
        for task in ("asr", "st_eng"):
            utts.append(Utterance(f"spk-{name}_{task}", str(wav), "spk", "fra", task, "bonjour",
                                  "hello" if task == "st_eng" else "bonjour"))
    data = write_datadir(tmp_path / "data/train", utts)
    return fa.format_audio(data, tmp_path / "dump/raw/org/train", nj=1, min_duration=0.0, max_duration=float("inf"))


@needs_ffmpeg
def test_keeps_the_utterances_within_the_limits_and_logs_each_reason(tmp_path, caplog):
    org = _dump(tmp_path)
    assert len(read_map(org / "wav.scp")) == 6  # stage 3 dropped nothing for its length
    with caplog.at_level(logging.WARNING):
        out = fl.filter_lengths(org, tmp_path / "dump/raw/train", min_duration=0.1, max_duration=2.0)
    kept = read_map(out / "wav.scp")
    assert sorted(kept) == ["spk-ok_asr", "spk-ok_st_eng"]
    assert kept["spk-ok_asr"] == read_map(org / "wav.scp")["spk-ok_asr"]  # the wav stays in org/
    for name in ("text", "text.prev", "text.ctc", "utt2spk", "utt2num_samples"):
        assert set(read_map(out / name)) == set(kept), name
    assert read_map(out / "spk2utt") == {"spk": "spk-ok_asr spk-ok_st_eng"}
    assert "skipped 2 of 6 utterances" in caplog.text and "longer than max_duration=2.0 s" in caplog.text
    assert "shorter than min_duration=0.1 s" in caplog.text and "spk-long_asr (3.00 s)" in caplog.text
    with pytest.raises(ValueError, match="no utterance of .* is 5.0-9.0 s long"):
        fl.filter_lengths(org, tmp_path / "none", min_duration=5.0, max_duration=9.0)


@needs_ffmpeg
def test_a_dump_dir_without_lengths_is_named(tmp_path):
    org = _dump(tmp_path)
    lines = (org / "utt2num_samples").read_text().splitlines()
    (org / "utt2num_samples").write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"utt2num_samples has no line for 'spk-long_asr' \(1 missing\)"):
        fl.filter_lengths(org, tmp_path / "out")
