"""Decoding: damaged m4a files are unreadable, never shortened; clean files of every kind decode whole."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_dynprune.corpora.audio_io import AAC_FRAME, AudioError, decode
from tests.builders.corpus_files import needs_ffmpeg, overwrite_middle, stretch_sample_times, write_talk_m4a, write_tone


@needs_ffmpeg
@pytest.mark.parametrize("n_bytes", [40_000, 200])
def test_mid_file_corruption_is_unreadable(tmp_path: Path, n_bytes: int) -> None:
    # ffmpeg exits 0 on these and drops the frames it cannot decode: 5.0 s of 25 s for 40 KB,
    # two frames (0.05 s, inside the length tolerance) for 200 bytes; it logs errors for both.
    talk = overwrite_middle(write_talk_m4a(tmp_path / "talk.m4a", 25.0), n_bytes)
    with pytest.raises(AudioError, match=f"ffmpeg could not decode {re.escape(str(talk))}: "):
        decode(str(talk), 16000)


@needs_ffmpeg
def test_silently_shortened_m4a_is_unreadable(tmp_path: Path) -> None:
    # A damaged timing table: ffmpeg decodes ~4.7 s of 25 s without logging anything.
    talk = stretch_sample_times(write_talk_m4a(tmp_path / "talk.m4a", 25.0))
    message = rf"{re.escape(str(talk))} decoded to 4\.\d\d s but its container indexes 25\.00 s"
    with pytest.raises(AudioError, match=message):
        decode(str(talk), 16000)


@needs_ffmpeg
@pytest.mark.parametrize(
    "seconds, sample_rate", [(25.0, 44100), (0.3, 44100), (7.31, 48000), (3.07, 22050), (1.0, 16000)]
)
def test_clean_m4a_decodes_whole(tmp_path: Path, seconds: float, sample_rate: int) -> None:
    # No false positives: the decoded length is within one AAC frame of the truth (the last
    # frame's padding), well inside the tolerance.
    talk = write_talk_m4a(tmp_path / "talk.m4a", seconds, sample_rate)
    samples = decode(str(talk), 16000)
    assert abs(len(samples) - seconds * 16000) <= AAC_FRAME * 16000 / sample_rate


@needs_ffmpeg
@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_wav_and_flac_decode(tmp_path: Path, suffix: str) -> None:
    at_rate = write_tone(tmp_path / "a.wav", 1.5)
    stereo48k = write_tone(tmp_path / "b.wav", 1.5, sample_rate=48000, channels=2)
    if suffix == ".flac":
        for wav in (at_rate, stereo48k):
            data, rate = soundfile.read(str(wav))
            soundfile.write(str(wav.with_suffix(".flac")), data, rate)
        at_rate, stereo48k = at_rate.with_suffix(".flac"), stereo48k.with_suffix(".flac")
    expected = soundfile.read(str(at_rate), dtype="int16")[0]
    np.testing.assert_array_equal(decode(str(at_rate), 16000), expected)  # soundfile, bit-exact
    assert abs(len(decode(str(stereo48k), 16000)) - 24000) <= 16  # ffmpeg: resampled, mixed down


@needs_ffmpeg
def test_mp3_with_an_estimated_length_decodes(tmp_path: Path) -> None:
    # Without a Xing header ffprobe guesses a VBR mp3's length from its bitrate (here 23.0 s for
    # 25 s); only containers that index their packets are held to their stated length.
    wav, mp3 = write_tone(tmp_path / "a.wav", 25.0, sample_rate=44100), tmp_path / "a.mp3"
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", "-q:a", "6", "-write_xing", "0"]
    if subprocess.run([*cmd, str(mp3)], capture_output=True).returncode != 0:
        pytest.skip("this ffmpeg has no libmp3lame encoder")
    assert abs(len(decode(str(mp3), 16000)) - 25 * 16000) <= 2 * 1152
