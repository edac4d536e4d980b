"""Segments support of the OWSM data dir writer (recordings cut into utterances)."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.data.owsm_datadir import Segment, Utterance, read_map, read_segments, write_datadir


def _utt(utt_id: str, wav: str, segment=None) -> Utterance:
    return Utterance(utt_id, wav, utt_id.split("-")[0], "fra", "asr", "oui", "oui", segment=segment)


def test_segments_key_wav_scp_by_recording(tmp_path: Path) -> None:
    utts = [
        _utt("spk-a", "/x/talk.m4a", Segment("talk", 0.5, 1.25)),
        _utt("spk-b", "/x/talk.m4a", Segment("talk", 2.0, 3.0)),
        _utt("spk-c", "/x/c.wav"),  # whole file
    ]
    out = write_datadir(tmp_path / "d", utts)
    assert read_map(out / "wav.scp") == {"spk-c": "/x/c.wav", "talk": "/x/talk.m4a"}
    segments = read_map(out / "segments")
    assert segments == {"spk-a": "talk 0.500 1.250", "spk-b": "talk 2.000 3.000", "spk-c": "spk-c 0.000 -1"}
    assert read_segments(out / "segments")["spk-c"] == Segment("spk-c", 0.0, -1.0)
    write_datadir(tmp_path / "d", [_utt("spk-c", "/x/c.wav")])  # no segments any more: stale file goes
    assert not (out / "segments").exists() and read_map(out / "wav.scp") == {"spk-c": "/x/c.wav"}


def test_segment_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs 0 <= start < end"):
        Segment("talk", 2.0, 1.0)
    clash = [_utt("spk-a", "/x/1.m4a", Segment("talk", 0, 1)), _utt("spk-b", "/x/2.m4a", Segment("talk", 0, 1))]
    with pytest.raises(ValueError, match="recording id 'talk' names two files"):
        write_datadir(tmp_path / "d", clash)
    (tmp_path / "segments").write_text("u1 talk 0.0\n")
    with pytest.raises(ValueError, match="segments: utterance 'u1'"):
        read_segments(tmp_path / "segments")
