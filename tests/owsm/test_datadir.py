"""OWSM data dirs: segments (recordings cut into utterances) and a test set's language x task."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.owsm.datadir import Segment, Utterance, context_of, read_map, read_segments, write_datadir
from tests.recipe.tiny_decoding import write_test_set


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


@pytest.fixture
def test_set(tmp_path: Path) -> Path:
    return write_test_set(tmp_path / "test_fra_asr")


def test_language_and_task_come_from_the_text_and_must_agree(test_set: Path) -> None:
    assert context_of(test_set, None, None) == ("<fra>", "<asr>")
    assert context_of(test_set, "fra", "<asr>") == ("<fra>", "<asr>")
    with pytest.raises(ValueError, match=r"matching --lang_sym deu.*<fra>"):
        context_of(test_set, "deu", None)
    (test_set / "text").write_text("a <fra><asr> x\nb <deu><asr> y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="one language x task"):
        context_of(test_set, None, None)


def test_a_text_without_a_prefix_and_a_missing_text_are_named(test_set: Path) -> None:
    (test_set / "text").write_text("a <fra><asr> x\nb plain words\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"text: b does not start with an OWSM <lang><task> prefix"):
        context_of(test_set)
    (test_set / "text").unlink()
    assert context_of(test_set, "fra", "st_eng") == ("<fra>", "<st_eng>")
    with pytest.raises(ValueError, match="text is missing: give --lang_sym and --task_sym"):
        context_of(test_set, "fra")


def test_read_map_errors_name_the_file(tmp_path):
    blank = tmp_path / "text"
    blank.write_text("u1 hello\n\nu2 world\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{blank}: every line must be 'key value'"):
        read_map(blank)
    latin1 = tmp_path / "wav.scp"
    latin1.write_bytes("u1 caf\xe9.wav\n".encode("latin-1"))
    with pytest.raises(ValueError, match=f"{latin1}: not UTF-8"):
        read_map(latin1)
