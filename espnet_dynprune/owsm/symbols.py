"""OWSM special symbols and the decoder-target grammar ``<lang><task><notimestamps> text``.

OWSM v3.1 prefixes every decoder target with the spoken language and the task, e.g.
``<fra><st_eng><notimestamps> the council ...``: ``<fra>`` is an ISO 639-3 code, ``<asr>``
transcribes, ``<st_eng>`` translates into English, and ``<notimestamps>`` asks for text without
``<0.00>``-style time stamps. The data writers, the recipe, scoring and the token-list tools all
write or read this prefix, so what counts as a language code or a task name is decided here only
(:func:`is_language_code`, :func:`is_task_name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List

BLANK = "<blank>"
UNK = "<unk>"
#: "Not available": the ``text.prev`` of an utterance without previous-utterance context.
NA = "<na>"
NOSPEECH = "<nospeech>"
ASR = "<asr>"
NOTIME = "<notimestamps>"
#: Start and end of the target, and start of the previous-text prompt.
SOS, EOS, SOP = "<sos>", "<eos>", "<sop>"
#: Task names ``st_xxx`` translate into the language ``xxx``.
ST_PREFIX = "st_"
#: A control symbol as it appears in text: ``<...>`` without whitespace or nested brackets.
SPECIAL_SYMBOL = re.compile(r"<[^<>\s]+>")

_LANGUAGE_CODE = re.compile(r"[a-z]{3}")
_PREFIX = re.compile(r"<([^<>\s]+)><([^<>\s]+)>")


def symbol(name: str) -> str:
    """``fra`` or ``<fra>`` -> ``<fra>``."""
    return name if name.startswith("<") else f"<{name}>"


def symbol_name(value: str) -> str:
    """``<fra>`` or ``fra`` -> ``fra``."""
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def is_language_code(code: str) -> bool:
    """Whether ``code`` is an OWSM v3.1 language code: three lower-case letters (ISO 639-3)."""
    return _LANGUAGE_CODE.fullmatch(code) is not None


def is_task_name(name: str) -> bool:
    """Whether ``name`` is ``asr`` or ``st_`` followed by a language code (``st_eng``)."""
    return name == "asr" or (name.startswith(ST_PREFIX) and is_language_code(name[len(ST_PREFIX):]))


def check_language(code: str, where: str = "language") -> str:
    """``code`` if :func:`is_language_code`, else a ``ValueError`` naming ``where``."""
    if not is_language_code(code):
        raise ValueError(f"{where}={code!r} is not an ISO 639-3 code like 'fra'")
    return code


def check_task(name: str, where: str = "task") -> str:
    """``name`` if :func:`is_task_name`, else a ``ValueError`` naming ``where``."""
    if not is_task_name(name):
        raise ValueError(f"{where}={name!r} must be 'asr' or 'st_xxx' (xxx: the ISO 639-3 target language, "
                         f"e.g. st_eng)")
    return name


def timestamp_symbols(last: float = 30.0, step: float = 0.02) -> List[str]:
    """``<0.00> <0.02> ... <30.00>`` (1501 symbols for the OWSM defaults)."""
    n = int(round(last / step))
    return [f"<{i * step:.2f}>" for i in range(n + 1)]


@dataclass(frozen=True)
class OwsmTarget:
    """A decoder target split up: ``language`` and ``task`` without brackets, then the text."""

    language: str
    task: str
    text: str


def format_target(language: str, task: str, text: str) -> str:
    """``<language><task><notimestamps> text`` (no spaces between the special symbols)."""
    check_language(language)
    check_task(task)
    return f"<{language}><{task}>{NOTIME} {text.strip()}"


def has_prefix(line: str) -> bool:
    """Whether ``line`` starts with two ``<...>`` symbols (valid or not), as a target does."""
    return _PREFIX.match(line) is not None


def parse_target(line: str, where: str = "text") -> OwsmTarget:
    """Split ``<lang><task>[<notimestamps>] text``; a bad prefix raises naming ``where`` and the line.

    The text keeps any time stamps; ``<notimestamps>`` is optional (the recipe's data always has it).
    """
    match = _PREFIX.match(line)
    if match is None:
        raise ValueError(f"{where} does not start with an OWSM <lang><task> prefix (e.g. <fra><st_eng>): {line!r}")
    language, task = match.groups()
    if not (is_language_code(language) and is_task_name(task)):
        raise ValueError(f"{where}: <{language}><{task}> is not <ISO 639-3 language><asr or st_xxx> "
                         f"(e.g. <fra><st_eng>): {line!r}")
    rest = line[match.end():]
    if rest.startswith(NOTIME):
        rest = rest[len(NOTIME):]
    return OwsmTarget(language, task, rest.strip())
