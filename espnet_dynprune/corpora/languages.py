"""Language codes: the corpora name languages with 2-letter ISO-639-1 codes, OWSM with ISO-639-3.

OWSM v3/v3.1 language tokens are ISO-639-3 (``<fra>``, ``<eng>``); a code outside the table is an
error listing the known ones, rather than a guess that would give the model an unknown token.
"""

from __future__ import annotations

from typing import Dict, List

#: ISO-639-1 -> ISO-639-3 (the OWSM language token without brackets).
ISO639_3: Dict[str, str] = {
    "bg": "bul",
    "cs": "ces",
    "de": "deu",
    "en": "eng",
    "es": "spa",
    "fr": "fra",
    "hu": "hun",
    "it": "ita",
    "nl": "nld",
    "pl": "pol",
    "pt": "por",
    "ro": "ron",
}

#: ISO-639-1 -> FLEURS directory name (``{lang}_{region}``).
FLEURS_DIRS: Dict[str, str] = {
    "bg": "bg_bg",
    "cs": "cs_cz",
    "de": "de_de",
    "en": "en_us",
    "es": "es_419",
    "fr": "fr_fr",
    "hu": "hu_hu",
    "it": "it_it",
    "nl": "nl_nl",
    "pl": "pl_pl",
    "pt": "pt_br",
    "ro": "ro_ro",
}


def to_iso639_3(code: str) -> str:
    """``fr`` -> ``fra``; an unknown code raises ``ValueError`` listing the known ones."""
    try:
        return ISO639_3[code]
    except KeyError:
        raise ValueError(f"unknown language code {code!r}; known: {', '.join(sorted(ISO639_3))}") from None


def fleurs_dir(code: str) -> str:
    """``hu`` -> ``hu_hu``: the FLEURS directory of a language."""
    try:
        return FLEURS_DIRS[code]
    except KeyError:
        raise ValueError(
            f"no FLEURS directory known for language {code!r}; known: {', '.join(sorted(FLEURS_DIRS))}"
        ) from None


def parse_langs(value: str) -> List[str]:
    """``"fr,de"`` -> ``["fr", "de"]`` (checked against the table; duplicates are an error)."""
    codes = [c.strip() for c in value.split(",") if c.strip()]
    for code in codes:
        to_iso639_3(code)
    if len(set(codes)) != len(codes):
        raise ValueError(f"language list {value!r} names a language twice")
    return codes
