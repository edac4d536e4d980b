"""Templated parliament-style sentences with aligned English translations.

Why a closed, tiny vocabulary: in a mini-scale training probe, a small model given ~80 word types
per language learned the templates and ignored the audio, while with ~40-50 word types it learned
to listen within a few CPU-minutes. Every sentence is ``subject verb object [time]`` (German:
``subject verb [time] object``, verb-second order; Hungarian keeps S V O [time], which is
grammatical if not the most idiomatic order), all lower case and without punctuation so WER/BLEU
need no normalisation.

A sentence is identified by its *frame* (indices of subject, verb, object, time); frames are the
same across languages, so the English side is exact by construction and splits are disjoint by
frame (hence by source and target text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Set, Tuple

#: The language of each lexicon column (ISO 639-3, as in OWSM's ``<fra>`` tokens).
COLUMNS: Tuple[str, ...] = ("eng", "fra", "deu", "ita", "hun", "bul")
#: One lexical item in every language of :data:`COLUMNS`, in that order.
Row = Tuple[str, str, str, str, str, str]

# One row per lexical item; row order is part of the frame encoding. Hungarian objects carry the
# accusative (-t) and the verbs the definite conjugation; Bulgarian articles are suffixed, with the
# full form (-ът) on masculine subjects and the short form (-а) on masculine objects.
SUBJECTS: Tuple[Row, ...] = (
    ("the commission", "la commission", "die kommission", "la commissione", "a bizottság", "комисията"),
    ("the council", "le conseil", "der rat", "il consiglio", "a tanács", "съветът"),
    ("the parliament", "le parlement", "das parlament", "il parlamento", "a parlament", "парламентът"),
    ("the committee", "le comité", "der ausschuss", "il comitato", "a szakbizottság", "комитетът"),
    ("the minister", "le ministre", "der minister", "il ministro", "a miniszter", "министърът"),
    ("the president", "la présidente", "die präsidentin", "la presidente", "az elnök", "председателят"),
    ("the rapporteur", "le rapporteur", "der berichterstatter", "il relatore", "az előadó", "докладчикът"),
    ("the government", "le gouvernement", "die regierung", "il governo", "a kormány", "правителството"),
    ("the group", "le groupe", "die fraktion", "il gruppo", "a frakció", "групата"),
    ("the delegation", "la délégation", "die delegation", "la delegazione", "a küldöttség", "делегацията"),
)
VERBS: Tuple[Row, ...] = (
    ("supports", "soutient", "unterstützt", "sostiene", "támogatja", "подкрепя"),
    ("rejects", "rejette", "verwirft", "respinge", "elutasítja", "отхвърля"),
    ("examines", "examine", "prüft", "esamina", "megvizsgálja", "разглежда"),
    ("approves", "approuve", "billigt", "approva", "jóváhagyja", "одобрява"),
    ("criticises", "critique", "kritisiert", "critica", "bírálja", "критикува"),
    ("defends", "défend", "verteidigt", "difende", "védi", "защитава"),
    ("welcomes", "salue", "begrüßt", "accoglie", "üdvözli", "приветства"),
    ("presents", "présente", "präsentiert", "presenta", "bemutatja", "представя"),
    ("adopts", "adopte", "beschließt", "adotta", "elfogadja", "приема"),
    ("amends", "modifie", "ändert", "modifica", "módosítja", "изменя"),
)
OBJECTS: Tuple[Row, ...] = (
    ("the report", "le rapport", "den bericht", "la relazione", "a jelentést", "доклада"),
    ("the proposal", "la proposition", "den vorschlag", "la proposta", "a javaslatot", "предложението"),
    ("the budget", "le budget", "den haushalt", "il bilancio", "a költségvetést", "бюджета"),
    ("the treaty", "le traité", "den vertrag", "il trattato", "a szerződést", "договора"),
    ("the directive", "la directive", "die richtlinie", "la direttiva", "az irányelvet", "директивата"),
    ("the reform", "la réforme", "die reform", "la riforma", "a reformot", "реформата"),
    ("the regulation", "le règlement", "die verordnung", "il regolamento", "a rendeletet", "регламента"),
    ("the compromise", "le compromis", "den kompromiss", "il compromesso", "a kompromisszumot", "компромиса"),
    ("the programme", "le programme", "das programm", "il programma", "a programot", "програмата"),
    ("the resolution", "la résolution", "die entschließung", "la risoluzione", "az állásfoglalást", "резолюцията"),
)
TIMES: Tuple[Row, ...] = (
    ("tomorrow", "demain", "morgen", "domani", "holnap", "утре"),
    ("this week", "cette semaine", "diese woche", "questa settimana", "ezen a héten", "тази седмица"),
    ("this morning", "ce matin", "heute früh", "stamattina", "ma reggel", "тази сутрин"),
    ("this evening", "ce soir", "heute abend", "stasera", "ma este", "тази вечер"),
    (
        "next week",
        "la semaine prochaine",
        "nächste woche",
        "la settimana prossima",
        "jövő héten",
        "следващата седмица",
    ),
    ("on monday", "lundi", "am montag", "lunedì", "hétfőn", "в понеделник"),
)

#: Source languages: every column but English, the translation side.
LANGUAGES: Tuple[str, ...] = COLUMNS[1:]
_COLUMN: Dict[str, int] = {lang: col for col, lang in enumerate(COLUMNS)}
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
