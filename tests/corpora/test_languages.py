"""The language table: lookups in every naming scheme, and language lists checked with clear errors."""

from __future__ import annotations

import pytest

from espnet_dynprune.corpora.languages import (
    LANGUAGES,
    espeak_voice,
    fleurs_dir,
    language,
    parse_langs,
    to_iso639_3,
)


def test_one_row_per_language_in_every_scheme() -> None:
    assert (to_iso639_3("fr"), fleurs_dir("fr"), espeak_voice("fra")) == ("fra", "fr_fr", "fr")
    assert (fleurs_dir("en"), fleurs_dir("es"), fleurs_dir("pt")) == ("en_us", "es_419", "pt_br")
    assert language("it").europarl_st and not language("hu").europarl_st
    for column in ("code", "iso639_3", "fleurs_dir"):
        values = [getattr(lang, column) for lang in LANGUAGES]
        assert len(set(values)) == len(values), column
    with pytest.raises(ValueError, match="unknown language code 'xx'; known: bg, cs"):
        to_iso639_3("xx")
    with pytest.raises(ValueError, match="'pol' has no espeak-ng voice; known: bul, deu"):
        espeak_voice("pol")


def test_parse_langs() -> None:
    assert parse_langs(" fr, de ,") == ["fr", "de"] and parse_langs("") == []
    with pytest.raises(ValueError, match="--fleurs_langs: unknown language code 'xx'"):
        parse_langs("hu,xx", "--fleurs_langs")
    with pytest.raises(ValueError, match="--langs: unknown language 'es'; choose from de, fr"):
        parse_langs("fr,es", "--langs", ("fr", "de"))
    with pytest.raises(ValueError, match="--langs: fr named more than once"):
        parse_langs("fr,de,fr", "--langs")
