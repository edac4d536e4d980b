"""VoxForge reader: both prompt formats, speakers, skips and the speaker split."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from espnet_dynprune.corpora.voxforge import assign_speakers, read_language, read_voxforge
from tests.builders.corpus_files import make_voxforge_session


def test_reads_both_prompt_formats(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_voxforge_session(tmp_path, "bg", "ivan-20100101-abc", {"b0001": "Добър ден.", "b0002": "  "})
    make_voxforge_session(tmp_path, "bg", "anonymous-20110202-xyz", {"a01": "Здравей"}, style="PROMPTS")
    (tmp_path / "bg/extracted/anonymous-20110202-xyz/wav/a01.wav").rename(
        tmp_path / "bg/extracted/anonymous-20110202-xyz/a01.wav"
    )
    make_voxforge_session(tmp_path, "bg", "maria-20120303-q", {"m1": "Благодаря"}, style="PROMPTS")
    (tmp_path / "bg/extracted/empty-session").mkdir()
    with caplog.at_level(logging.WARNING):
        utts = read_language(tmp_path, "bg")
    by_id = {u.utt_id: u for u in utts}
    assert sorted(by_id) == ["voxforge.bul.ivan-20100101.abc_b0001_asr", "voxforge.bul.maria-20120303.q_m1_asr"]
    assert by_id["voxforge.bul.ivan-20100101.abc_b0001_asr"].text == "<bul><asr><notimestamps> Добър ден."
    assert by_id["voxforge.bul.maria-20120303.q_m1_asr"].target_text == "БЛАГОДАРЯ"
    assert "skipped 1 of 4 sessions" in caplog.text
    assert "empty prompt" in caplog.text and "audio file missing" in caplog.text


def test_anonymous_sessions_are_separate_speakers(tmp_path: Path) -> None:
    make_voxforge_session(tmp_path, "bg", "anonymous-20110202-xyz", {"a": "едно"})
    make_voxforge_session(tmp_path, "bg", "anonymous-20110303-uvw", {"a": "две"})
    make_voxforge_session(tmp_path, "bg", "ivan-1-a", {"a": "три"})
    make_voxforge_session(tmp_path, "bg", "ivan-2-b", {"a": "четири"})
    speakers = sorted({u.speaker for u in read_language(tmp_path, "bg")})
    anonymous = ["voxforge.bul.anonymous.20110202.xyz", "voxforge.bul.anonymous.20110303.uvw"]
    assert speakers == [*anonymous, "voxforge.bul.ivan"]


def test_speaker_split_is_deterministic_and_whole() -> None:
    speakers = [f"spk{i}" for i in range(40)]
    split = assign_speakers(speakers, 0.05, 0.1)
    assert split == assign_speakers(reversed(speakers), 0.05, 0.1)
    counts = {name: sum(v == name for v in split.values()) for name in ("train", "dev", "test")}
    assert counts == {"train": 34, "dev": 2, "test": 4}
    assert set(assign_speakers(["a", "b"], 0.05, 0.05).values()) == {"train"}
    assert sorted(assign_speakers(["a", "b", "c"], 0.05, 0.05).values()) == ["dev", "test", "train"]
    with pytest.raises(ValueError, match="test_fraction"):
        assign_speakers(speakers, 0.05, 0.7)


def test_splits_by_speaker(tmp_path: Path) -> None:
    for i in range(5):
        make_voxforge_session(tmp_path, "bg", f"user{i}-2010-a", {"x1": "едно", "x2": "две"})
    splits = read_voxforge(tmp_path, ["bg"], 0.2, 0.2)
    assert {k: len(v) for k, v in splits.items()} == {"train": 6, "dev": 2, "test": 2}
    spk = {k: {u.speaker for u in v} for k, v in splits.items()}
    assert not spk["train"] & spk["dev"] and not spk["train"] & spk["test"]
    with pytest.raises(FileNotFoundError, match="VOXFORGE"):
        read_voxforge(tmp_path / "nowhere", ["bg"])
