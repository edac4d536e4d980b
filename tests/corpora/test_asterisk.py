"""The Asterisk voice prompts: parallel ASR and X -> English ST sets, notes removed, split by key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from espnet_dynprune.corpora.asterisk import clean, read_asterisk, read_transcripts, split_of, transcript_path
from tests.builders.corpus_files import make_asterisk

KEYS = [f"prompt-{i}" for i in range(40)]
EN = [(k, f"Please press {i}.") for i, k in enumerate(KEYS)] + [
    ("beep", "[this is a simple beep tone]"),
    ("digits/5", "five"),
    ("vm-intro", "Please leave a message (simple tone sound plays) after the tone."),
    ("pls-try-later", "Please try later."),
]
FR = [(k, f"Appuyez sur {i}.") for i, k in enumerate(KEYS)] + [
    ("digits/5", "cinq"),
    ("digits/0", "zéro"),
    ("digits/0", "dix"),
    ("fr-only", "Bonjour."),
]
VOICES = {"en_US_f_Allison": "en", "fr_CA_f_June": "fr"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_asterisk(tmp_path / "share", {"en": EN, "fr": FR}, VOICES, no_audio=["pls-try-later"])


def test_asr_and_st_sets_with_notes_removed_and_skips_counted(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        splits = read_asterisk(root, ["en", "fr"], ["asr", "st_eng"], dev_fraction=0.2, test_fraction=0.3)
    utts = {u.utt_id: u for split in splits.values() for u in split}
    vm = utts["asterisk.eng.en_US_f_Allison-vm.intro_asr"]
    assert vm.target_text == "Please leave a message after the tone." and vm.lang == "eng"
    st = utts["asterisk.fra.fr_CA_f_June-digits.5_st_eng"]
    assert (st.source_text, st.target_text, st.task) == ("cinq", "five", "st_eng")
    assert st.wav.endswith("fr_CA_f_June/digits/5.wav")
    assert not any("beep" in u or "digits.0" in u or "pls.try.later" in u for u in utts)
    assert "asterisk.fra.fr_CA_f_June-fr.only_asr" in utts and "asterisk.fra.fr_CA_f_June-fr.only_st_eng" not in utts
    assert not any(u.task == "st_eng" and u.lang == "eng" for u in utts.values())
    log = caplog.text
    assert "removed bracketed notes from 2 of 44 transcripts" in log  # the beep line and vm-intro
    assert "skipped 1 of 44 transcripts" in log and "no words once notes are removed" in log
    assert "skipped 2 of 44 transcripts" in log and "key written more than once" in log
    assert "skipped 1 of 43 prompts" in log and "audio file missing" in log
    assert "no English text (st_eng example dropped) (first: fr-only)" in log


def test_a_key_is_in_one_split_for_every_language_and_choice_of_languages(root: Path) -> None:
    both = read_asterisk(root, ["en", "fr"], ["asr", "st_eng"], dev_fraction=0.2, test_fraction=0.3)
    french = read_asterisk(root, ["fr"], ["asr"], dev_fraction=0.2, test_fraction=0.3)
    key_split = {}
    for name, split in both.items():
        for utt in split:
            key = utt.utt_id.split("-", 1)[1].rsplit("_", 1)[0].removesuffix("_st")
            assert key_split.setdefault(key, name) == name, key
    assert {u.utt_id for u in french["test"]} == {u.utt_id for u in both["test"] if u.lang == "fra" and u.task == "asr"}
    assert all(len(both[name]) > 0 for name in ("train", "dev", "test"))
    assert split_of("prompt-3", 0.2, 0.3) == split_of("prompt-3", 0.2, 0.3)
    with pytest.raises(ValueError, match="test_fraction=0.6"):
        split_of("prompt-3", 0.1, 0.6)


def test_bad_input_names_file_and_package(root: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ASTERISK"):
        read_asterisk(tmp_path / "nowhere", ["en"], ["asr"])
    with pytest.raises(ValueError, match="Asterisk languages \\['de'\\]"):
        read_asterisk(root, ["de"], ["asr"])
    with pytest.raises(FileNotFoundError, match="apt-get install asterisk-core-sounds-it"):
        read_asterisk(root, ["it"], ["asr"])
    with pytest.raises(ValueError, match="Asterisk voices \\['nobody'\\]"):
        read_asterisk(root, ["en"], ["asr"], voices=["nobody"])
    bad = transcript_path(root, "en")
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="core-sounds-en.txt.gz: not a gzipped"):
        read_transcripts(bad)


def test_clean_removes_every_kind_of_note() -> None:
    assert clean("Voce disattivata. (You are now muted.)") == ("Voce disattivata.", True)
    assert clean("<beep ascending>") == ("", True)
    assert clean("Pour [emphase]  ici") == ("Pour ici", True)
    assert clean("Agent logged off.") == ("Agent logged off.", False)
