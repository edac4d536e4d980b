"""Speaker, utterance, task and test-set names shared by the corpus readers.

Kaldi wants utterance ids that start with their speaker id and sort (C locale) in speaker order.
A speaker id that is a prefix of another (``...3-14`` and ``...3-142``) breaks that when the
character after the prefix sorts below the separator. So speaker ids keep only ``[A-Za-z0-9._]``
(anything else becomes ``.``) and the separator after them is ``-``, which sorts below all of
those: sorting by utterance id then always groups by speaker. Ids are prefixed with the corpus and
language (``epst.fra.``) so corpora combined in one dir cannot collide.
"""

from __future__ import annotations

import re
from typing import List

#: Command-line task names -> OWSM task tokens (without brackets).
TASKS = {"asr": "asr", "st": "st_eng"}

_UNSAFE = re.compile(r"[^A-Za-z0-9._]")


def speaker_id(corpus: str, lang: str, name: str) -> str:
    """``epst``, ``fra``, ``en.2008-14`` -> ``epst.fra.en.2008.14`` (see the module docstring)."""
    if not name:
        raise ValueError(f"empty speaker name for {corpus}/{lang}")
    return f"{corpus}.{lang}.{_UNSAFE.sub('.', name)}"


def utt_id(speaker: str, rest: str, task: str) -> str:
    """``{speaker}-{rest}_{task}``; ``rest`` (recording part, times) is made whitespace-free."""
    return f"{speaker}-{_UNSAFE.sub('.', rest)}_{task}"


def time_span(start: float, end: float) -> str:
    """``start_ms:07d_end_ms:07d``, the OWSM utterance-id time stamp."""
    return f"{round(start * 1000):07d}_{round(end * 1000):07d}"


def name_test_set(corpus: str, lang: str, task: str) -> str:
    """``test_epst_fra_st_eng``: one test dir per corpus, language and task."""
    return f"test_{corpus}_{lang}_{task}"


def parse_tasks(value: str) -> List[str]:
    """``"asr,st"`` -> ``["asr", "st_eng"]``; an unknown name raises listing the known ones."""
    names = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown or not names:
        raise ValueError(f"tasks {value!r}: expected a comma-separated subset of {', '.join(TASKS)}")
    return [TASKS[t] for t in dict.fromkeys(names)]
