"""Synthetic FLEURS recordings: genders, sentence ids, file names, the TSVs written for them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile

from espnet_dynprune.corpora.fleurs import read_tsv, tsv_path, wav_path
from espnet_dynprune.data import synthetic_fleurs
from espnet_dynprune.data.espeak import Speaker


def test_gender_follows_the_espeak_variant() -> None:
    assert synthetic_fleurs.gender(Speaker("hun", "f2")) == "FEMALE"
    assert synthetic_fleurs.gender(Speaker("hun", "m7")) == "MALE"


def test_ids_and_file_names_look_real_and_repeat() -> None:
    ids = synthetic_fleurs.sentence_ids(30, seed=0)
    assert len(set(ids)) == 30 and all(1 <= i <= 2009 for i in ids)
    assert len(set(synthetic_fleurs.sentence_ids(3000, seed=0))) == 3000  # range widens when needed
    names = synthetic_fleurs.file_names("hu_hu", 30, seed=0)
    assert len(set(names)) == 30 and all(re.fullmatch(r"\d{19}\.wav", n) for n in names)
    assert names == synthetic_fleurs.file_names("hu_hu", 30, seed=0) != synthetic_fleurs.file_names("bg_bg", 30, seed=0)


def test_tsvs_describe_the_recordings(tmp_path: Path) -> None:
    recordings = []
    for k, (split, seconds) in enumerate((("train", 1.0), ("train", 0.5), ("dev", 0.25))):
        path = wav_path(tmp_path, "hu_hu", split, f"{k}.wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), np.zeros(int(seconds * 16000), np.float32), 16000, subtype="PCM_16")
        speaker = Speaker("hun", "f1" if k else "m1")
        recordings.append(synthetic_fleurs.Recording("hu_hu", split, 10 + k, "a tanács", path, speaker))
    counts = synthetic_fleurs.write_tsvs(tmp_path, recordings)
    assert counts == {"hu_hu": {"train": {"sentences": 2, "seconds": 1.5}, "dev": {"sentences": 1, "seconds": 0.25}}}
    rows = read_tsv(tsv_path(tmp_path, "hu_hu", "train"))
    assert [(r.id, r.file_name, r.num_samples, r.gender) for r in rows] == [
        ("10", "0.wav", 16000, "MALE"),
        ("11", "1.wav", 8000, "FEMALE"),
    ]
    assert rows[0].raw_transcription == "A tanács." and rows[0].chars == "a | t a n á c s"
