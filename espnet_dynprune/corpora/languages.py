"""The one language table: each language's code in every corpus, in OWSM and in espeak-ng.

The corpora name languages with 2-letter ISO 639-1 codes (Europarl-ST dirs and file suffixes,
VoxForge dirs, the recipe's language lists), FLEURS with a ``{lang}_{region}`` dir, OWSM v3/v3.1
with ISO 639-3 tokens (``<fra>``, ``<eng>``) and espeak-ng with its own voice names. A code
outside the table is an error listing the known ones, rather than a guess that would give the
model an unknown token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Dict, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Language:
    """One language; FLEURS has every language of the table."""

    #: ISO 639-1, as the corpora and the recipe's language lists name it (``fr``).
    code: str
    #: ISO 639-3, OWSM's language token without brackets (``fra``).
    iso639_3: str
    #: The FLEURS directory (``fr_fr``).
    fleurs_dir: str
    #: The espeak-ng voice (``fr``); None where no synthetic corpus speaks the language.
    espeak_voice: Optional[str]
    #: Whether Europarl-ST v1.1 has the language (as a source, or as the English target).
    europarl_st: bool


LANGUAGES: Tuple[Language, ...] = (
    Language("bg", "bul", "bg_bg", "bg", europarl_st=False),
    Language("cs", "ces", "cs_cz", None, europarl_st=False),
    Language("de", "deu", "de_de", "de", europarl_st=True),
    Language("en", "eng", "en_us", "en", europarl_st=True),
    Language("es", "spa", "es_419", "es", europarl_st=True),
    Language("fr", "fra", "fr_fr", "fr", europarl_st=True),
    Language("hu", "hun", "hu_hu", "hu", europarl_st=False),
    Language("it", "ita", "it_it", "it", europarl_st=True),
    Language("nl", "nld", "nl_nl", "nl", europarl_st=True),
    Language("pl", "pol", "pl_pl", None, europarl_st=True),
    Language("pt", "por", "pt_br", None, europarl_st=True),
    Language("ro", "ron", "ro_ro", None, europarl_st=True),
    Language("ru", "rus", "ru_ru", "ru", europarl_st=False),
)
_BY_CODE: Dict[str, Language] = {lang.code: lang for lang in LANGUAGES}
_VOICES: Dict[str, str] = {lang.iso639_3: lang.espeak_voice for lang in LANGUAGES if lang.espeak_voice}


def language(code: str) -> Language:
    """The row of ISO 639-1 ``code``; an unknown code raises ``ValueError`` listing the known ones."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise ValueError(f"unknown language code {code!r}; known: {', '.join(sorted(_BY_CODE))}") from None


def to_iso639_3(code: str) -> str:
    """``fr`` -> ``fra`` (OWSM's language token without brackets)."""
    return language(code).iso639_3


def from_iso639_3(iso639_3: str) -> str:
    """``fra`` -> ``fr`` (Whisper's language tokens); a code outside the table raises listing them."""
    for lang in LANGUAGES:
        if lang.iso639_3 == iso639_3:
            return lang.code
    raise ValueError(f"language {iso639_3!r}: known are {', '.join(lang.iso639_3 for lang in LANGUAGES)}")


def fleurs_dir(code: str) -> str:
    """``hu`` -> ``hu_hu``: the FLEURS directory of a language."""
    return language(code).fleurs_dir


def espeak_voice(iso639_3: str) -> str:
    """``fra`` -> ``fr``: the espeak-ng voice of an OWSM language; raises listing the voiced ones."""
    try:
        return _VOICES[iso639_3]
    except KeyError:
        raise ValueError(f"language {iso639_3!r} has no espeak-ng voice; known: {', '.join(sorted(_VOICES))}") from None


def check_langs(codes: Sequence[str], what: str, choices: Optional[Collection[str]] = None) -> List[str]:
    """``codes`` as a list, each in the table (or in ``choices``, a subset of it), none twice.

    Errors start with ``what`` (the option or key the codes came from).
    """
    for code in codes:
        if choices is not None and code not in choices:
            raise ValueError(f"{what}: unknown language {code!r}; choose from {', '.join(sorted(choices))}")
        try:
            language(code)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"{what}: {', '.join(repeated)} named more than once")
    return list(codes)


def parse_langs(value: str, what: str = "language list", choices: Optional[Collection[str]] = None) -> List[str]:
    """``"fr,de"`` -> ``["fr", "de"]``, ``""`` -> ``[]``; checked by :func:`check_langs`."""
    return check_langs([c.strip() for c in value.split(",") if c.strip()], what, choices)
