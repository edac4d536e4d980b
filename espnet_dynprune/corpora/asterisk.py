"""The Asterisk PBX voice prompts (Debian ``asterisk-core-sounds-*``): real speech, five languages.

Layout under the root (db.sh ``ASTERISK``; ``/usr/share`` once the Debian packages are in)::

    asterisk/sounds/{voice}/{key}.wav                               8 kHz 16-bit mono, one file a prompt
    doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz       "key: text" lines, ";" comments

``key`` may hold a subfolder (``digits/5``, ``dictate/both_help``). The same key is the same
prompt in every language, so the prompts are a parallel corpus: ASR in each language, and speech
translation X -> English with the English text of the same key as the reference. Each voice is
one professional speaker (:data:`VOICES`; a second Italian voice, Menardi, reads the same keys and
uses the Italian transcripts).

Transcripts are real-world text: notes in brackets (``(simple tone sound plays)``,
``[ascending tones]``, ``<beep ascending>``) are removed from references and counted; prompts
left with no words (tones, silence files) are skipped and counted, as are keys without audio and
repeated keys. There is no official split: whole keys go to train, dev or test by a hash of the key alone
(:func:`split_of`), the same for every language, voice and choice of languages, so no test prompt
is seen in training in another language. Audio is 8 kHz; stage 3 resamples it.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple, Union

from espnet_dynprune.corpora.checks import Skips, require_root
from espnet_dynprune.corpora.languages import to_iso639_3
from espnet_dynprune.corpora.naming import TASKS, speaker_id, utt_id
from espnet_dynprune.owsm.datadir import BOM, Utterance

logger = logging.getLogger(__name__)

CORPUS = "asterisk"
DB_VAR = "ASTERISK"
SAMPLE_RATE = 8000
LANGS = ("en", "es", "fr", "it", "ru")


@dataclass(frozen=True)
class Voice:
    """One speaker's recordings: its sounds dir, language and the Debian package that ships it."""

    dir: str
    lang: str
    package: str


VOICES: Tuple[Voice, ...] = (
    Voice("en_US_f_Allison", "en", "asterisk-core-sounds-en-wav"),
    Voice("es_MX_f_Allison", "es", "asterisk-core-sounds-es-wav"),
    Voice("fr_CA_f_June", "fr", "asterisk-core-sounds-fr-wav"),
    Voice("it_IT_m_Carlo", "it", "asterisk-core-sounds-it-wav"),
    Voice("it_IT_f_Menardi", "it", "asterisk-prompt-it-menardi-wav"),
    Voice("ru_RU_f_IvrvoiceRU", "ru", "asterisk-core-sounds-ru-wav"),
)

#: Debian packages of the transcripts (the audio packages are in :data:`VOICES`).
TEXT_PACKAGES = tuple(f"asterisk-core-sounds-{lang}" for lang in LANGS)

_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>")


def transcript_path(root: Path, lang: str) -> Path:
    """``ROOT/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz``."""
    return root / "doc" / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"


def wav_path(root: Path, voice: str, key: str) -> Path:
    """``ROOT/asterisk/sounds/{voice}/{key}.wav``."""
    return root / "asterisk" / "sounds" / voice / f"{key}.wav"


def clean(text: str) -> Tuple[str, bool]:
    """The spoken words of a transcript and whether a note was removed:
    ``"Voce disattivata. (You are now muted.)"`` -> ``("Voce disattivata.", True)``."""
    words = _NOTE.sub(" ", text)
    return " ".join(words.split()), words != text


def read_transcripts(path: Path) -> List[Tuple[str, str]]:
    """``(key, text)`` lines of one ``core-sounds-{lang}.txt.gz`` as written (notes kept, repeats
    kept); a line that is not ``key: text`` raises naming file and line."""
    try:
        raw = gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a gzipped UTF-8 Asterisk transcript file ({exc})") from exc
    out: List[Tuple[str, str]] = []
    for lineno, line in enumerate(raw.split("\n"), 1):
        line = line.strip().removeprefix(BOM)
        if not line or line.startswith(";"):
            continue
        key, sep, text = line.partition(":")
        key = key.strip()
        if not sep or not key or any(c.isspace() for c in key):
            raise ValueError(f"{path}:{lineno}: expected 'key: text', got {line[:60]!r}")
        out.append((key, text.strip()))
    return out


def write_transcripts(root: Path, lang: str, lines: Sequence[Tuple[str, str]]) -> Path:
    """Write ``core-sounds-{lang}.txt.gz`` (``(key, text)`` lines) as Debian ships it; return its path."""
    path = transcript_path(root, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"; Core Asterisk Sounds ({lang})\n\n" + "".join(f"{k}: {v}\n" for k, v in lines)
    path.write_bytes(gzip.compress(body.encode("utf-8"), mtime=0))
    return path


def references(root: Path, lang: str) -> Dict[str, str]:
    """``key -> cleaned text`` of ``lang``; notes removed, notes-only prompts and keys written
    twice dropped, counted."""
    path = transcript_path(root, lang)
    if not path.is_file():
        raise FileNotFoundError(f"Asterisk transcripts {path} not found (apt-get install asterisk-core-sounds-{lang})")
    texts = read_transcripts(path)
    skips = Skips(f"transcripts of {path}")
    counts: Dict[str, int] = {}
    for key, _ in texts:
        counts[key] = counts.get(key, 0) + 1
    out: Dict[str, str] = {}
    noted = 0
    for key, text in texts:
        if counts[key] > 1:
            skips.add("key written more than once (which text is spoken is unknown)", f"{key}: {text}")
            continue
        words, had_note = clean(text)
        noted += had_note
        if not words:
            skips.add("no words once notes are removed (tones, silence)", f"{key}: {text}")
            continue
        out[key] = words
    if noted:
        logger.info("%s: removed bracketed notes from %d of %d transcripts", path, noted, len(texts))
    skips.log(total=len(texts))
    return out


def read_voice(
    root: Path, voice: Voice, tasks: Sequence[str], texts: Mapping[str, str], english: Mapping[str, str]
) -> Dict[str, List[Utterance]]:
    """``key -> utterances`` of one voice, ``texts`` its language's references (ASR, and
    ``st_eng`` with ``english`` for a non-English voice when asked)."""
    sounds = root / "asterisk" / "sounds" / voice.dir
    if not sounds.is_dir():
        raise FileNotFoundError(f"Asterisk voice {sounds} not found (apt-get install {voice.package})")
    iso = to_iso639_3(voice.lang)
    speaker = speaker_id(CORPUS, iso, voice.dir)
    skips = Skips(f"prompts of {sounds}")
    out: Dict[str, List[Utterance]] = {}
    for key, text in texts.items():
        audio = wav_path(root, voice.dir, key)
        if not audio.is_file():
            skips.add("audio file missing", str(audio))
            continue
        utts = []
        for task in tasks:
            if task == TASKS["asr"]:
                target = text
            elif voice.lang == "en":
                continue
            elif key not in english:
                skips.add(f"no English text ({task} example dropped)", key)
                continue
            else:
                target = english[key]
            utts.append(Utterance(utt_id(speaker, key, task), str(audio), speaker, iso, task, text, target))
        out[key] = utts
    unlisted = sum(1 for wav in sounds.rglob("*.wav") if wav.relative_to(sounds).with_suffix("").as_posix() not in texts)
    if unlisted:
        logger.info("%s: %d audio files have no (spoken) transcript and are not used", sounds, unlisted)
    skips.log(total=len(texts))
    return out


def split_of(key: str, dev_fraction: float, test_fraction: float) -> str:
    """``train``, ``dev`` or ``test`` for a prompt key: where its SHA-1 falls in [0, 1)."""
    for name, frac in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= frac < 0.5:
            raise ValueError(f"Asterisk {name}={frac} must be in [0, 0.5)")
    position = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 16**8
    return "dev" if position < dev_fraction else "test" if position < dev_fraction + test_fraction else "train"


def read_asterisk(
    root: Union[str, Path],
    langs: Sequence[str],
    tasks: Sequence[str],
    voices: Sequence[str] = (),
    dev_fraction: float = 0.1,
    test_fraction: float = 0.25,
) -> Dict[str, List[Utterance]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` over the voices of ``langs`` (2-letter
    codes; ``voices``: only these voice dirs), split by prompt key."""
    base = require_root(root, "Asterisk prompts", DB_VAR)
    unknown = [lang for lang in langs if lang not in LANGS]
    if unknown:
        raise ValueError(f"Asterisk languages {unknown}: the prompts exist in {', '.join(LANGS)}")
    chosen = [v for v in VOICES if v.lang in langs and (not voices or v.dir in voices)]
    missing = set(voices) - {v.dir for v in VOICES}
    if missing:
        raise ValueError(f"Asterisk voices {sorted(missing)}: known are {', '.join(v.dir for v in VOICES)}")
    needs_english = any(t != TASKS["asr"] for t in tasks) and any(v.lang != "en" for v in chosen)
    wanted = {v.lang for v in chosen} | ({"en"} if needs_english else set())
    texts = {lang: references(base, lang) for lang in sorted(wanted)}
    by_key: Dict[str, List[Utterance]] = {}
    for voice in chosen:
        for key, utts in read_voice(base, voice, tasks, texts[voice.lang], texts.get("en", {})).items():
            by_key.setdefault(key, []).extend(utts)
    out: Dict[str, List[Utterance]] = {"train": [], "dev": [], "test": []}
    for key, utts in by_key.items():
        out[split_of(key, dev_fraction, test_fraction)].extend(utts)
    return out
