"""Corpus names: speaker and utterance ids that sort by speaker, OWSM time stamps, test-set and task names."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.corpora import naming
from espnet_dynprune.owsm.datadir import Utterance, read_map, write_datadir


def test_ids_keep_only_safe_characters_and_name_their_corpus_and_language() -> None:
    assert naming.speaker_id("epst", "fra", "en.2008-14") == "epst.fra.en.2008.14"
    assert naming.speaker_id("vox", "bul", "user 1/ä") == "vox.bul.user.1.."
    assert naming.utt_id("epst.fra.en.2008.14", "en.2008-14 0000200_0000900", "st_eng") == (
        "epst.fra.en.2008.14-en.2008.14.0000200_0000900_st_eng")
    assert naming.time_span(0.2, 12.05) == "0000200_0012050"
    assert naming.name_test_set("fleurs", "hun", "st_eng") == "test_fleurs_hun_st_eng"
    with pytest.raises(ValueError, match="empty speaker name for epst/fra"):
        naming.speaker_id("epst", "fra", "")


@pytest.mark.parametrize("after", [" ", "!", "#", "+", ",", "-", "2", "_"])
def test_a_speaker_whose_name_extends_another_s_still_sorts_apart(after: str, tmp_path: Path) -> None:
    """Kaldi's check: utterance ids sorted (C locale) must list each speaker's utterances together."""
    utts = []
    for name in ("s3-14", f"s3-14{after}1"):
        speaker = naming.speaker_id("epst", "fra", name)
        for rest in ("a", "b"):
            utts.append(Utterance(naming.utt_id(speaker, rest, "asr"), f"/{speaker}{rest}.wav", speaker, "fra", "asr",
                                  "oui", "oui"))  # fmt: skip
    out = write_datadir(tmp_path, utts)  # raises if sorting by utterance id splits a speaker
    assert len(read_map(out / "spk2utt")) == 2


def test_tasks_are_parsed_in_order_without_repeats_and_an_unknown_one_is_named() -> None:
    assert naming.parse_tasks("asr,st") == ["asr", "st_eng"]
    assert naming.parse_tasks(" st, asr,st ") == ["st_eng", "asr"]
    for bad in ("asr,mt", "", " , "):
        with pytest.raises(ValueError, match=f"^tasks {bad!r}: expected a comma-separated subset of asr, st$"):
            naming.parse_tasks(bad)
