"""OWSM data dirs: segments (recordings cut into utterances) and a test set's language x task."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.owsm.datadir import (
    DATADIR_FILES,
    Segment,
    Utterance,
    context_of,
    read_map,
    read_segments,
    write_datadir,
)
from tests.builders.tiny_decoding import write_test_set


def _utt(utt_id: str, wav: str, segment=None) -> Utterance:
    return Utterance(utt_id, wav, utt_id.split("-")[0], "fra", "asr", "oui", "oui", segment=segment)


def _example(spk: str, idx: int, task: str, lang: str = "fra") -> Utterance:
    """One recording's ASR or ST example, as the corpus writers make them."""
    src, eng = "le conseil examine le rapport", "the council examines the report"
    return Utterance(
        utt_id=f"{spk}_u{idx:03d}_{task}",
        wav=f"/data/{spk}_u{idx:03d}.wav",
        speaker=spk,
        lang=lang,
        task=task,
        source_text=src,
        target_text=src if task == "asr" else eng,
        duration=1.5,
    )


def test_write_datadir_format(tmp_path: Path) -> None:
    utts = [_example(s, i, t) for s in ("fra-m2", "fra-f1") for i in (2, 1) for t in ("st_eng", "asr")]
    out = write_datadir(tmp_path / "d", utts)
    for name in (*DATADIR_FILES, "utt2dur"):
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        keys = [line.split(" ", 1)[0] for line in lines]
        assert keys == sorted(keys, key=lambda k: k.encode()), name
    text = read_map(out / "text")
    assert text["fra-f1_u001_asr"] == "<fra><asr><notimestamps> le conseil examine le rapport"
    assert text["fra-f1_u001_st_eng"] == "<fra><st_eng><notimestamps> the council examines the report"
    assert set(read_map(out / "text.prev").values()) == {"<na>"}
    assert set(read_map(out / "text.ctc").values()) == {"le conseil examine le rapport"}
    assert read_map(out / "wav.scp")["fra-m2_u002_st_eng"] == "/data/fra-m2_u002.wav"
    assert read_map(out / "spk2utt")["fra-f1"].split() == [
        "fra-f1_u001_asr", "fra-f1_u001_st_eng", "fra-f1_u002_asr", "fra-f1_u002_st_eng",
    ]  # fmt: skip
    assert read_map(out / "utt2spk")["fra-m2_u001_asr"] == "fra-m2"


def test_datadir_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must start with its speaker id"):
        Utterance("u1_asr", "/a.wav", "spk", "fra", "asr", "a", "a")
    with pytest.raises(ValueError, match="task='mt'"):
        _example("s", 1, "mt")
    with pytest.raises(ValueError, match="lang='fr'"):
        _example("s", 1, "asr", lang="fr")
    with pytest.raises(ValueError, match="duplicate utt_id 's_u001_asr'"):
        write_datadir(tmp_path, [_example("s", 1, "asr"), _example("s", 1, "asr")])
    with pytest.raises(ValueError, match="sorting by utt_id and by speaker disagree"):
        write_datadir(tmp_path, [_example("a", 1, "asr"), _example("a-b", 1, "asr")])


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
    with pytest.raises(ValueError, match=f"{latin1}:1: not UTF-8"):
        read_map(latin1)


def test_a_byte_order_mark_crlf_and_spaces_reach_no_key_or_value(tmp_path):
    from espnet_dynprune.owsm.datadir import read_lines

    shipped = tmp_path / "text"
    shipped.write_bytes("\ufeffu1 <fra><asr><notimestamps> bonjour  \r\n  u2 \tmerci\r\nu3\r\n".encode("utf-8"))
    assert read_map(shipped) == {"u1": "<fra><asr><notimestamps> bonjour", "u2": "merci", "u3": ""}
    assert read_lines(shipped)[0] == "u1 <fra><asr><notimestamps> bonjour  "  # lines keep their words' spacing
    duplicated = tmp_path / "utt2spk"
    duplicated.write_text("u1 a\nu1 b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{duplicated}:2: key 'u1' is duplicated"):
        read_map(duplicated)


def test_non_utf8_text_names_file_line_and_bytes(tmp_path):
    from espnet_dynprune.owsm.datadir import read_lines

    text = tmp_path / "segments.fr"
    text.write_bytes("le conseil\nla commission europ\xe9enne\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"segments.fr:2: not UTF-8 text \(invalid continuation byte .*europ"):
        read_lines(text)
    kaldi = tmp_path / "text"
    kaldi.write_bytes(b"u1 ok\nu2 caf\xe9\n")
    with pytest.raises(ValueError, match=r"text:2: not UTF-8 text"):
        read_map(kaldi)
    windows = tmp_path / "windows.txt"
    windows.write_bytes("a\r\nb\u2028c\n".encode("utf-8"))
    assert read_lines(windows) == ["a", "b\u2028c"]  # split at \n only, as Kaldi tools split
