"""The templated lexicon: aligned English, normalised text, German word order, a small vocabulary."""

from __future__ import annotations

import itertools
import re

import pytest

from espnet_dynprune.data import sentences

FRAMES = [(*svo, t) for svo in itertools.product(range(3), range(3), range(3)) for t in (None, 0, 1)]


@pytest.mark.parametrize("lang", sentences.LANGUAGES)
def test_pairs_are_aligned_lower_case_and_unpunctuated(lang: str) -> None:
    for frame in FRAMES:
        pair = sentences.make_pair(frame, lang)
        assert (pair.lang, pair.frame, pair.english) == (lang, frame, sentences.render(frame, "eng"))
        assert pair.source == pair.source.lower() and not re.search(r"[.,;!?]", pair.source)
    assert len({sentences.render(f, lang) for f in FRAMES}) == len(FRAMES)  # a frame is one sentence


def test_german_puts_time_before_object() -> None:
    frame = (1, 2, 0, 0)  # council, examines, report, tomorrow
    assert sentences.render(frame, "deu") == "der rat prüft morgen den bericht"
    assert sentences.render(frame, "fra") == "le conseil examine le rapport demain"
    assert sentences.render(frame, "eng") == "the council examines the report tomorrow"


@pytest.mark.parametrize("lang", ["eng", *sentences.LANGUAGES])
def test_vocabulary_is_small(lang: str) -> None:
    assert 35 <= len(sentences.word_types(lang)) <= 50


def test_unknown_language_is_named() -> None:
    with pytest.raises(ValueError, match="'spa'"):
        sentences.render((0, 0, 0, None), "spa")
    with pytest.raises(ValueError, match="lang='eng' is not supported"):  # English is the target only
        sentences.make_pair((0, 0, 0, None), "eng")
