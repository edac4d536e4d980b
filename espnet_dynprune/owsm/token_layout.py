"""The OWSM token-list layout, and a token list's language and task symbols read back from it.

OWSM token lists (``tokens.txt``, index = token id) are laid out as::

    <blank> <unk> <na> <nospeech> <lang>... <asr> <st_xxx>... <notimestamps> <0.00> ... <30.00>
    BPE pieces... <sos> <eos> <sop>

``<na>`` to ``<30.00>`` are sentencepiece user-defined symbols, so they keep these ids. The 1501
time stamps are needed even for data without time stamps: ESPnet's S2TPreprocessor looks up
``<0.00>``/``<30.00>`` when it is built and Speech2Text's score filter uses them.

Why languages and tasks are read from their position, not from a pattern: OWSM v3.1 names
languages with three letters (``<fra>``, ``<st_eng>``) but OWSM v1 with two (``<en>``,
``<st_en>``); the layout is what both share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

from espnet_dynprune.owsm.symbols import (
    ASR, BLANK, EOS, NA, NOSPEECH, NOTIME, SOP, SOS, ST_PREFIX, UNK, check_language, check_task, symbol,
    timestamp_symbols,
)  # fmt: skip


def owsm_special_symbols(
    langs: Sequence[str],
    tasks: Sequence[str] = ("asr", "st_eng"),
    *,
    last_time: float = 30.0,
    time_step: float = 0.02,
) -> List[str]:
    """The sentencepiece user-defined symbols in OWSM order, ``<na>`` to the last time stamp.

    ``langs`` are ISO 639-3 codes without brackets (``["deu", "eng", "fra"]``), kept in the
    given order after de-duplication; ``tasks`` are ``asr`` and ``st_xxx`` names; ``<asr>``
    always comes first among the tasks, as in OWSM.
    """
    lang_syms = [symbol(check_language(lang, "lang")) for lang in dict.fromkeys(langs)]
    task_syms = [symbol(check_task(task)) for task in dict.fromkeys(["asr", *tasks])]
    return [NA, NOSPEECH, *lang_syms, *task_syms, NOTIME, *timestamp_symbols(last_time, time_step)]


def owsm_token_list(user_symbols_and_pieces: Sequence[str]) -> List[str]:
    """The whole list: ``<blank> <unk>``, the spm vocabulary after ``<unk> <s> </s>``, ``<sos> <eos> <sop>``."""
    return [BLANK, UNK, *user_symbols_and_pieces, SOS, EOS, SOP]


@dataclass(frozen=True)
class ContextSymbols:
    """The ``<lang>`` and ``<task>`` symbols of a token list, in token-id order."""

    languages: Tuple[str, ...]
    tasks: Tuple[str, ...]


def context_symbols(tokens: Sequence[str], where: str = "the token list") -> ContextSymbols:
    """Languages and tasks of an OWSM-layout token list, found by position.

    Languages are the symbols after ``<nospeech>`` (after ``<na>`` in a list without it) and
    before ``<asr>``; tasks are ``<asr>`` and the ``<st_...>`` symbols right after it. A list
    without ``<asr>`` (not an OWSM list, e.g. an ASR model's) has none: both are empty. A list
    with ``<asr>`` but not the layout around it raises a ``ValueError`` naming ``where``.
    """
    tokens = list(tokens)
    if ASR not in tokens:
        return ContextSymbols((), ())
    asr = tokens.index(ASR)
    before = tokens[:asr]
    anchor = NOSPEECH if NOSPEECH in before else NA
    if anchor not in before:
        raise ValueError(f"{where}: {ASR} (id {asr}) is not preceded by {NA} or {NOSPEECH}, so it does not have "
                         f"the OWSM layout <blank> <unk> <na> <nospeech> <lang>... <asr> <st_xxx>... "
                         f"(first tokens: {tokens[:6]})")
    start = before.index(anchor) + 1
    languages = tokens[start:asr]
    if not languages:
        raise ValueError(f"{where}: no language symbols between {anchor} (id {start - 1}) and {ASR} (id {asr})")
    for token_id, token in enumerate(languages, start):
        if not (token.startswith("<") and token.endswith(">")) or token in (NA, NOSPEECH, BLANK, UNK):
            raise ValueError(f"{where}: token {token_id} {token!r}, between {anchor} and {ASR}, is not a "
                             f"<language> symbol")
    tasks = [ASR]
    for token in tokens[asr + 1:]:
        if not (token.startswith(f"<{ST_PREFIX}") and token.endswith(">")):
            break
        tasks.append(token)
    return ContextSymbols(tuple(languages), tuple(tasks))
