"""Templated parliament-style sentences with aligned English translations.

Why a closed, tiny vocabulary: the mini-scale probe (shared/notes/mini-scale-training-probe.md)
found that with ~80 word types per language a small model learns the templates and ignores the
audio, while with ~40-50 word types it learns to listen within a few CPU-minutes. Every sentence
is ``subject verb object [time]`` (German: ``subject verb [time] object``, verb-second order),
all lower case and without punctuation so WER/BLEU need no normalisation.

A sentence is identified by its *frame* (indices of subject, verb, object, time); frames are the
same across languages, so the English side is exact by construction and splits are disjoint by
frame (hence by source and target text).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

# One row per lexical item: (english, fra, deu, ita). Order is part of the frame encoding.
SUBJECTS: Tuple[Tuple[str, str, str, str], ...] = (
    ("the commission", "la commission", "die kommission", "la commissione"),
    ("the council", "le conseil", "der rat", "il consiglio"),
    ("the parliament", "le parlement", "das parlament", "il parlamento"),
    ("the committee", "le comité", "der ausschuss", "il comitato"),
    ("the minister", "le ministre", "der minister", "il ministro"),
    ("the president", "la présidente", "die präsidentin", "la presidente"),
    ("the rapporteur", "le rapporteur", "der berichterstatter", "il relatore"),
    ("the government", "le gouvernement", "die regierung", "il governo"),
    ("the group", "le groupe", "die fraktion", "il gruppo"),
    ("the delegation", "la délégation", "die delegation", "la delegazione"),
)
VERBS: Tuple[Tuple[str, str, str, str], ...] = (
    ("supports", "soutient", "unterstützt", "sostiene"),
    ("rejects", "rejette", "verwirft", "respinge"),
    ("examines", "examine", "prüft", "esamina"),
    ("approves", "approuve", "billigt", "approva"),
    ("criticises", "critique", "kritisiert", "critica"),
    ("defends", "défend", "verteidigt", "difende"),
    ("welcomes", "salue", "begrüßt", "accoglie"),
    ("presents", "présente", "präsentiert", "presenta"),
    ("adopts", "adopte", "beschließt", "adotta"),
    ("amends", "modifie", "ändert", "modifica"),
)
OBJECTS: Tuple[Tuple[str, str, str, str], ...] = (
    ("the report", "le rapport", "den bericht", "la relazione"),
    ("the proposal", "la proposition", "den vorschlag", "la proposta"),
    ("the budget", "le budget", "den haushalt", "il bilancio"),
    ("the treaty", "le traité", "den vertrag", "il trattato"),
    ("the directive", "la directive", "die richtlinie", "la direttiva"),
    ("the reform", "la réforme", "die reform", "la riforma"),
    ("the regulation", "le règlement", "die verordnung", "il regolamento"),
    ("the compromise", "le compromis", "den kompromiss", "il compromesso"),
    ("the programme", "le programme", "das programm", "il programma"),
    ("the resolution", "la résolution", "die entschließung", "la risoluzione"),
)
TIMES: Tuple[Tuple[str, str, str, str], ...] = (
    ("tomorrow", "demain", "morgen", "domani"),
    ("this week", "cette semaine", "diese woche", "questa settimana"),
    ("this morning", "ce matin", "heute früh", "stamattina"),
    ("this evening", "ce soir", "heute abend", "stasera"),
    ("next week", "la semaine prochaine", "nächste woche", "la settimana prossima"),
    ("on monday", "lundi", "am montag", "lunedì"),
)

#: Languages with a lexicon column (ISO-639-3, as in OWSM's ``<fra>`` tokens).
LANGUAGES: Tuple[str, ...] = ("fra", "deu", "ita")
_COLUMN: Dict[str, int] = {"eng": 0, "fra": 1, "deu": 2, "ita": 3}
#: Languages whose time phrase goes between verb and object (verb-second order).
_TIME_BEFORE_OBJECT = frozenset({"deu"})

#: A frame: (subject, verb, object, time or None) indices into the tables above.
Frame = Tuple[int, int, int, Optional[int]]


@dataclass(frozen=True)
class SentencePair:
    """One source sentence with its English translation; ``frame`` identifies it across langs."""

    lang: str
    source: str
    english: str
    frame: Frame


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"lang={lang!r} is not supported; choose one of {list(LANGUAGES)}")


def render(frame: Frame, lang: str) -> str:
    """Render a frame as a sentence in ``lang`` (``eng`` or one of :data:`LANGUAGES`)."""
    if lang not in _COLUMN:
        raise ValueError(f"lang={lang!r} has no lexicon; choose one of {sorted(_COLUMN)}")
    col = _COLUMN[lang]
    s, v, o, t = frame
    words = [SUBJECTS[s][col], VERBS[v][col]]
    time = [TIMES[t][col]] if t is not None else []
    if lang in _TIME_BEFORE_OBJECT:
        words += time + [OBJECTS[o][col]]
    else:
        words += [OBJECTS[o][col]] + time
    return " ".join(words)


def make_pair(frame: Frame, lang: str) -> SentencePair:
    """Build the (source, English) pair for one frame."""
    _check_lang(lang)
    return SentencePair(lang=lang, source=render(frame, lang), english=render(frame, "eng"), frame=frame)


def word_types(lang: str) -> Set[str]:
    """All word types ``lang`` can produce (``eng`` included); useful to check vocabulary size."""
    if lang not in _COLUMN:
        raise ValueError(f"lang={lang!r} has no lexicon; choose one of {sorted(_COLUMN)}")
    col = _COLUMN[lang]
    return {w for table in (SUBJECTS, VERBS, OBJECTS, TIMES) for row in table for w in row[col].split()}


def num_frames() -> int:
    """Number of distinct sentences per language (time phrase optional)."""
    return len(SUBJECTS) * len(VERBS) * len(OBJECTS) * (len(TIMES) + 1)


def _draw_frame(rng: random.Random, p_time: float) -> Frame:
    t = rng.randrange(len(TIMES)) if rng.random() < p_time else None
    return (rng.randrange(len(SUBJECTS)), rng.randrange(len(VERBS)), rng.randrange(len(OBJECTS)), t)


def sample_pairs(
    lang: str,
    n: int,
    *,
    seed: int = 0,
    p_time: float = 0.5,
    exclude: Optional[Set[Frame]] = None,
) -> List[SentencePair]:
    """Draw ``n`` distinct sentences in ``lang``, none of whose frames is in ``exclude``.

    Deterministic in (lang, n, seed, p_time, exclude): the generator is seeded with a string,
    which Python hashes with SHA-512, so results do not depend on PYTHONHASHSEED.
    """
    _check_lang(lang)
    if not 0.0 <= p_time <= 1.0:
        raise ValueError(f"p_time={p_time} must be in [0, 1]")
    taken: Set[Frame] = set(exclude or ())
    available = num_frames() - len(taken)
    if n > available // 2:
        # Rejection sampling would crawl, and such a corpus would not fit the design anyway.
        raise ValueError(
            f"n={n} sentences requested for lang={lang!r} but only {available} frames are free; "
            f"keep n below half of that"
        )
    rng = random.Random(f"sentences-{lang}-{seed}")
    pairs: List[SentencePair] = []
    while len(pairs) < n:
        frame = _draw_frame(rng, p_time)
        if frame in taken:
            continue
        taken.add(frame)
        pairs.append(make_pair(frame, lang))
    return pairs


def split_pairs(
    lang: str,
    sizes: Mapping[str, int],
    *,
    seed: int = 0,
    p_time: float = 0.5,
) -> Dict[str, List[SentencePair]]:
    """Disjoint splits, e.g. ``split_pairs("fra", {"train": 40, "dev": 6, "test": 6})``.

    One draw of ``sum(sizes)`` distinct frames is cut in the order of ``sizes``, so no sentence
    (source or English) appears in two splits.
    """
    for name, size in sizes.items():
        if size < 0:
            raise ValueError(f"sizes[{name!r}]={size} must be >= 0")
    pairs = sample_pairs(lang, sum(sizes.values()), seed=seed, p_time=p_time)
    out: Dict[str, List[SentencePair]] = {}
    start = 0
    for name, size in sizes.items():
        out[name] = pairs[start : start + size]
        start += size
    return out


def split_corpus(
    langs: Sequence[str],
    sizes: Mapping[str, int],
    *,
    seed: int = 0,
    p_time: float = 0.5,
) -> Dict[str, Dict[str, List[SentencePair]]]:
    """``{split: {lang: pairs}}`` for several languages (each language drawn independently)."""
    by_lang = {lang: split_pairs(lang, sizes, seed=seed, p_time=p_time) for lang in langs}
    return {split: {lang: by_lang[lang][split] for lang in langs} for split in sizes}
