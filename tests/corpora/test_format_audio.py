"""Stage 3 audio formatting: cutting, trimming, filters, shared files, resampling, resumability, damaged audio."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_dynprune.corpora import format_audio as fa
from espnet_dynprune.owsm.datadir import Segment, read_map, write_datadir
from tests.builders.corpus_files import (
    french_utterance,
    needs_ffmpeg,
    overwrite_middle,
    write_format_audio_cases,
    write_talk_m4a,
    write_tone,
)


@needs_ffmpeg
def test_cuts_filters_and_shares(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    in_dir, out_dir = write_format_audio_cases(tmp_path), tmp_path / "dump/train"
    with caplog.at_level(logging.WARNING):
        fa.format_audio(in_dir, out_dir, nj=1, max_duration=30.0, min_duration=0.1)
    wav_scp = read_map(out_dir / "wav.scp")
    assert sorted(wav_scp) == ["r.long-a_asr", "r.long-a_st_eng", "r.long-b_asr", "r.stereo-w_asr"]
    assert wav_scp["r.long-a_asr"] == wav_scp["r.long-a_st_eng"] == f"{out_dir}/data/r.long-a_asr.wav"
    samples = {k: int(v) for k, v in read_map(out_dir / "utt2num_samples").items()}
    assert samples["r.long-a_asr"] == 16000 and samples["r.long-b_asr"] == 8000
    assert abs(samples["r.stereo-w_asr"] - 16000) <= 32
    info = soundfile.info(wav_scp["r.stereo-w_asr"])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == samples["r.stereo-w_asr"]
    assert set(read_map(out_dir / "text")) == set(wav_scp) == set(read_map(out_dir / "text.ctc"))
    assert read_map(out_dir / "spk2utt") == {
        "r.long": "r.long-a_asr r.long-a_st_eng r.long-b_asr",
        "r.stereo": "r.stereo-w_asr",
    }
    assert (out_dir / "feats_type").read_text() == "raw\n"
    log = caplog.text
    assert "skipped 2 of 8 utterances" in log and "unreadable audio" in log
    assert "skipped 1 of 8 utterances" in log and "past the end of the audio" in log
    assert "shorter than min_duration=0.1" in log


@needs_ffmpeg
def test_max_duration_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    in_dir, out_dir = write_format_audio_cases(tmp_path), tmp_path / "dump/train"
    fa.format_audio(in_dir, out_dir, nj=1, max_duration=0.9)
    assert sorted(read_map(out_dir / "wav.scp")) == ["r.long-b_asr"]

    def no_decoding(*args: object) -> None:
        raise AssertionError("a finished dir was redone")

    monkeypatch.setattr(fa, "decode", no_decoding)
    fa.format_audio(in_dir, out_dir, nj=1, max_duration=0.9)  # same args: nothing to do
    monkeypatch.undo()
    fa.format_audio(in_dir, out_dir, nj=1, max_duration=30.0)  # other args: redone
    assert len(read_map(out_dir / "wav.scp")) == 4


@needs_ffmpeg
def test_a_damaged_talk_is_skipped_not_shifted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # 40 KB overwritten mid-talk: ffmpeg drops 5 s, which used to pair the sentences after the
    # damage with their neighbours' audio (and put the last one past the end).
    bad = overwrite_middle(write_talk_m4a(tmp_path / "audio/bad.m4a", 25.0), 40_000)
    good = write_talk_m4a(tmp_path / "audio/good.m4a", 3.0)
    utts = [
        french_utterance("bad", f"{i}", task, bad, Segment("bad", start, start + 2.0))
        for i, start in enumerate((1.0, 12.0, 22.0))
        for task in ("asr", "st_eng")
    ] + [french_utterance("good", "0", "asr", good, Segment("good", 0.5, 2.5))]
    in_dir, out_dir = write_datadir(tmp_path / "data/test", utts), tmp_path / "dump/test"
    with caplog.at_level(logging.WARNING):
        fa.format_audio(in_dir, out_dir, nj=1)
    assert sorted(read_map(out_dir / "wav.scp")) == ["good-0_asr"]
    skip = f"skipped 6 of 7 utterances of {in_dir}: unreadable audio (first: ffmpeg could not decode {bad}: "
    assert skip in caplog.text


@needs_ffmpeg
def test_replaced_audio_is_formatted_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wav = write_tone(tmp_path / "audio/a.wav", 1.0)
    in_dir = write_datadir(tmp_path / "data/test", [french_utterance("a", "0", "asr", wav)])
    out_dir = tmp_path / "dump/test"
    fa.format_audio(in_dir, out_dir, nj=1)
    new = np.full(16000, 1000, dtype=np.int16)  # same size, other samples: only the mtime tells
    soundfile.write(str(wav), new, 16000, subtype="PCM_16")
    os.utime(wav, ns=(wav.stat().st_atime_ns, wav.stat().st_mtime_ns + 1_000_000_000))
    with caplog.at_level(logging.INFO):
        fa.format_audio(in_dir, out_dir, nj=1)
    assert f"{out_dir} was made from other inputs (changed: audio_sha1); redoing it" in caplog.text
    np.testing.assert_array_equal(soundfile.read(read_map(out_dir / "wav.scp")["a-0_asr"], dtype="int16")[0], new)


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("u1 sox a.wav -t wav - |\n")
    with pytest.raises(ValueError, match="only plain file paths"):
        fa.format_audio(d, tmp_path / "dump")
    (d / "wav.scp").write_text("rec a.wav\n")
    (d / "segments").write_text("u1 other 0.0 1.0\n")
    with pytest.raises(ValueError, match="'u1' names recording 'other', not in wav.scp"):
        fa.format_audio(d, tmp_path / "dump")
