"""Synthetic Europarl-ST talks: ids, planning, assembly with noise pauses, segment files."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest
import soundfile

from espnet_dynprune.corpora.audio_io import decode
from espnet_dynprune.corpora.europarl_st import read_segments
from espnet_dynprune.data import synthetic_talks
from espnet_dynprune.data.espeak import Speaker
from espnet_dynprune.data.sentences import make_pair
from tests.builders.corpus_files import needs_ffmpeg

SPEAKERS = [Speaker("fra", "m3"), Speaker("fra", "f2")]


def test_audio_ids_look_real_and_repeat() -> None:
    ids = synthetic_talks.audio_ids("fr", 50, seed=1)
    assert len(set(ids)) == 50 and all(re.fullmatch(r"fr\.20\d{6}\.\d+\.\d-\d{3}", i) for i in ids)
    assert ids == synthetic_talks.audio_ids("fr", 50, seed=1) != synthetic_talks.audio_ids("fr", 50, seed=2)


def test_plan_talks_cuts_consecutive_talks() -> None:
    pairs = [make_pair((k % 4, k % 3, k % 5, None), "fra") for k in range(20)]
    talks = synthetic_talks.plan_talks(pairs, SPEAKERS, [f"t{k}" for k in range(20)], rng=random.Random(0))
    assert [p for t in talks for p in t.pairs] == pairs
    assert [t.audio_id for t in talks] == [f"t{k}" for k in range(len(talks))]
    low, high = synthetic_talks.TALK_SENTENCES
    assert all(low <= len(t.pairs) <= high for t in talks[:-1]) and set(t.speaker for t in talks) <= set(SPEAKERS)
    with pytest.raises(ValueError, match="1 audio ids are not enough for 20 sentences"):
        synthetic_talks.plan_talks(pairs, SPEAKERS, ["t0"], rng=random.Random(0))


def _talk(tmp_path: Path) -> Tuple[synthetic_talks.Talk, List[Path]]:
    pairs = (make_pair((0, 0, 0, None), "fra"), make_pair((1, 1, 1, 0), "fra"))
    wavs = []
    for k, seconds in enumerate((0.5, 0.75)):
        wav = tmp_path / f"s{k}.wav"
        soundfile.write(str(wav), np.full(int(seconds * 16000), 0.3, np.float32), 16000, subtype="PCM_16")
        wavs.append(wav)
    return synthetic_talks.Talk("fr.20080107.1.1-001", SPEAKERS[0], pairs), wavs


def test_assemble_talk_checks_the_wav_count(tmp_path: Path) -> None:
    talk, wavs = _talk(tmp_path)
    with pytest.raises(ValueError, match="talk fr.20080107.1.1-001: 1 WAVs for 2 sentences"):
        synthetic_talks.assemble_talk(talk, wavs[:1], tmp_path / "t.m4a", seed=0, noise_dbfs=-55.0)


@needs_ffmpeg
def test_assembled_talk_and_its_segment_files(tmp_path: Path) -> None:
    talk, wavs = _talk(tmp_path)
    out = tmp_path / "fr" / "audios" / f"{talk.audio_id}.m4a"
    times = synthetic_talks.assemble_talk(talk, wavs, out, seed=0, noise_dbfs=-55.0)
    assert [round(end - start, 3) for start, end in times] == [0.5, 0.75]
    assert 0.2 <= times[0][0] <= 1.0 and 0.1 <= times[1][0] - times[0][1] <= 0.5  # lead-in, pause
    audio = decode(str(out), 16000).astype(np.float32) / 32768.0
    assert len(audio) / 16000 >= times[1][1] + 0.2
    assert np.abs(audio[int(times[0][0] * 16000) + 800 : int(times[0][1] * 16000) - 800]).mean() > 0.2  # the wav
    counts = synthetic_talks.write_splits(tmp_path, [("fr", "dev", talk, times)])
    assert counts == {"fr": {"dev": {"talks": 1, "sentences": 2, "seconds": 1.25}}}
    segments = read_segments(tmp_path, "fr", "dev")
    assert [s.transcript for s in segments] == [p.source for p in talk.pairs]
    assert [s.translation for s in segments] == [p.english for p in talk.pairs]
    assert [(s.start, s.end) for s in segments] == [(round(a, 2), round(b, 2)) for a, b in times]
