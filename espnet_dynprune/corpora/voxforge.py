"""Read VoxForge (ESPnet egs2/voxforge download layout) into OWSM ASR utterances.

Layout under the root (db.sh ``VOXFORGE``)::

    {lang}/extracted/{user}-{date}-{suffix}/etc/prompts-original   "<file_id> <text...>"
    {lang}/extracted/{session}/etc/PROMPTS           "<session>/mfc/<file_id> <TEXT...>" (fallback)
    {lang}/extracted/{session}/wav/{file_id}.wav     or  flac/{file_id}.flac

``prompts-original`` keeps the prompt's case and punctuation, so it is preferred; ``PROMPTS``
(upper-cased, path-prefixed ids) is read when it is the only one. The speaker is the user name
of the session dir; ``anonymous`` sessions come from many people, so each such session is its own
speaker. VoxForge has no official split: whole speakers go to dev and test (see
:func:`assign_speakers`), the rest to train. ASR only (no translations).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

from espnet_dynprune.corpora.checks import Skips, require_root
from espnet_dynprune.corpora.languages import to_iso639_3
from espnet_dynprune.corpora.naming import speaker_id, utt_id
from espnet_dynprune.owsm.datadir import Utterance, read_lines

logger = logging.getLogger(__name__)

CORPUS = "voxforge"
DB_VAR = "VOXFORGE"
PROMPT_FILES = ("prompts-original", "PROMPTS")
_MIN_SPEAKERS_TO_SPLIT = 3


def session_dir(root: Path, lang: str, session: str) -> Path:
    """``ROOT/{lang}/extracted/{session}``."""
    return root / lang / "extracted" / session


def wav_path(session: Path, file_id: str) -> Path:
    """``{session}/wav/{file_id}.wav``."""
    return session / "wav" / f"{file_id}.wav"


def write_prompts(session: Path, prompts: Mapping[str, str]) -> Path:
    """Write ``{session}/etc/prompts-original`` (``file_id text`` lines); return its path."""
    path = session / "etc" / PROMPT_FILES[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{file_id} {text}\n" for file_id, text in prompts.items()), encoding="utf-8")
    return path


def read_prompts(session: Path) -> Optional[Dict[str, str]]:
    """``file_id -> text`` from the session's prompts file (see module docstring); None if none."""
    for name in PROMPT_FILES:
        path = session / "etc" / name
        if path.is_file():
            break
    else:
        return None
    prompts: Dict[str, str] = {}
    for line in read_lines(path):
        key, _, text = line.strip().partition(" ")
        if key:
            prompts[key.rsplit("/", 1)[-1]] = " ".join(text.split())
    return prompts


def _audio(session: Path, file_id: str) -> Optional[Path]:
    for path in (wav_path(session, file_id), session / "flac" / f"{file_id}.flac"):
        if path.is_file():
            return path
    return None


def read_language(root: Path, lang: str) -> List[Utterance]:
    """All utterances of ``{lang}/extracted``; sessions without prompts, missing audio and empty
    prompts are skipped (counted and logged)."""
    iso = to_iso639_3(lang)
    extracted = session_dir(root, lang, "")
    if not extracted.is_dir():
        raise FileNotFoundError(f"VoxForge dir {extracted} not found (language {lang!r})")
    sessions = sorted(p for p in extracted.iterdir() if p.is_dir())
    session_skips = Skips(f"sessions of {extracted}")
    skips = Skips(f"prompts of {extracted}")
    total = 0
    utts: List[Utterance] = []
    for session in sessions:
        prompts = read_prompts(session)
        if prompts is None:
            session_skips.add(f"no etc/{' or etc/'.join(PROMPT_FILES)}", str(session))
            continue
        user, _, rest = session.name.partition("-")
        speaker = speaker_id(CORPUS, iso, session.name if user.lower() == "anonymous" else user)
        total += len(prompts)
        for file_id, text in prompts.items():
            audio = _audio(session, file_id)
            if audio is None:
                skips.add("audio file missing (wav/*.wav or flac/*.flac)", f"{session}/{file_id}")
            elif not text:
                skips.add("empty prompt", f"{session}/{file_id}")
            else:
                utts.append(
                    Utterance(
                        utt_id=utt_id(speaker, f"{rest or session.name}_{file_id}", "asr"),
                        wav=str(audio),
                        speaker=speaker,
                        lang=iso,
                        task="asr",
                        source_text=text,
                        target_text=text,
                    )
                )
    session_skips.log(total=len(sessions))
    skips.log(total=total)
    return utts


def assign_speakers(speakers: Iterable[str], dev_fraction: float, test_fraction: float) -> Dict[str, str]:
    """``speaker -> train|dev|test``, deterministic and independent of input order.

    Speakers are ordered by a hash of their id (SHA-1, so the same on every machine); the first
    ``round(n * dev_fraction)`` go to dev, the next ``round(n * test_fraction)`` to test, at least
    one each when the fraction is positive. With fewer than 3 speakers all go to train (logged).
    """
    for name, frac in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= frac < 0.5:
            raise ValueError(f"VoxForge {name}={frac} must be in [0, 0.5)")
    order = sorted(set(speakers), key=lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest())
    if len(order) < _MIN_SPEAKERS_TO_SPLIT:
        logger.warning("only %d VoxForge speakers (%s): all go to train, none to dev/test", len(order), order)
        return {s: "train" for s in order}
    n_dev, n_test = (max(1, round(len(order) * f)) if f > 0 else 0 for f in (dev_fraction, test_fraction))
    if n_dev + n_test >= len(order):
        raise ValueError(
            f"VoxForge dev_fraction={dev_fraction} and test_fraction={test_fraction} leave none of "
            f"{len(order)} speakers for train"
        )
    return {s: "dev" if i < n_dev else "test" if i < n_dev + n_test else "train" for i, s in enumerate(order)}


def read_voxforge(
    root: Union[str, Path], langs: Sequence[str], dev_fraction: float = 0.05, test_fraction: float = 0.05
) -> Dict[str, List[Utterance]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` over ``langs`` (2-letter codes), split by
    speaker per language."""
    base = require_root(root, "VoxForge", DB_VAR)
    out: Dict[str, List[Utterance]] = {"train": [], "dev": [], "test": []}
    for lang in langs:
        utts = read_language(base, lang)
        split_of = assign_speakers((u.speaker for u in utts), dev_fraction, test_fraction)
        for utt in utts:
            out[split_of[utt.speaker]].append(utt)
    return out
