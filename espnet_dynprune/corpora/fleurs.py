"""Read FLEURS (google/fleurs, audio extracted) into OWSM utterances (ASR, and ST into English).

Layout under the root (db.sh ``FLEURS``)::

    {lang_region}/{train,dev,test}.tsv     no header; tab-separated: id, file_name,
                                           raw_transcription, transcription, chars, num_samples, gender
    {lang_region}/audio/{split}/{file_name}   16 kHz wav

Targets: ASR uses the ``transcription`` column (FLEURS' normalised text: lower case, no
punctuation), which is also ``text.ctc``. FLEURS is n-way parallel (rows with the same ``id`` say
the same sentence in every language), so ST joins on ``id`` with ``en_us/{split}.tsv`` and uses the
English ``raw_transcription``: cased and punctuated, like Europarl-ST's translations and OWSM's own
ST targets, and scored with BLEU. Several rows of one ``id`` (different readers) each become an
utterance; all English rows of one ``id`` carry the same sentence, the first one is used. Rows
whose ``id`` is missing from the English file get no ST example (counted and logged).

FLEURS has no speaker ids, so each row (recording) is its own speaker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from espnet_dynprune.corpora.checks import Skips, require_root
from espnet_dynprune.corpora.languages import fleurs_dir, to_iso639_3
from espnet_dynprune.corpora.naming import speaker_id, utt_id
from espnet_dynprune.data.owsm_datadir import Utterance

logger = logging.getLogger(__name__)

CORPUS = "fleurs"
DB_VAR = "FLEURS"
SPLITS = ("train", "dev", "test")
SAMPLE_RATE = 16000
_NUM_FIELDS = 7


@dataclass(frozen=True)
class FleursRow:
    """One line of a FLEURS ``{split}.tsv`` (the columns we use)."""

    id: str
    file_name: str
    raw_transcription: str
    transcription: str
    num_samples: Optional[int]


def read_tsv(path: Path) -> List[FleursRow]:
    """Rows of a FLEURS tsv; a line without the 7 columns raises naming file and line."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != _NUM_FIELDS or not fields[0] or not fields[1]:
                raise ValueError(
                    f"{path}:{lineno}: expected {_NUM_FIELDS} tab-separated columns (id, file_name, "
                    f"raw_transcription, transcription, chars, num_samples, gender), got {len(fields)}"
                )
            samples = fields[5].strip()
            rows.append(
                FleursRow(
                    id=fields[0].strip(),
                    file_name=fields[1].strip(),
                    raw_transcription=" ".join(fields[2].split()),
                    transcription=" ".join(fields[3].split()),
                    num_samples=int(samples) if samples.isdigit() else None,
                )
            )
    return rows


def english_by_id(root: Path, split: str) -> Optional[Dict[str, str]]:
    """``id -> English raw transcription`` from ``en_us/{split}.tsv`` (None if it is absent)."""
    path = root / fleurs_dir("en") / f"{split}.tsv"
    if not path.is_file():
        return None
    out: Dict[str, str] = {}
    for row in read_tsv(path):
        if row.raw_transcription:
            out.setdefault(row.id, row.raw_transcription)
    return out


def read_split(root: Path, lang: str, split: str, tasks: Sequence[str]) -> List[Utterance]:
    """Utterances of ``{lang_region}/{split}.tsv`` for each OWSM task in ``tasks``."""
    iso = to_iso639_3(lang)
    lang_dir = root / fleurs_dir(lang)
    tsv = lang_dir / f"{split}.tsv"
    if not tsv.is_file():
        raise FileNotFoundError(f"FLEURS file {tsv} not found (language {lang!r}, split {split!r})")
    rows = read_tsv(tsv)
    english = None
    st_tasks = [t for t in tasks if t != "asr"]
    if st_tasks and lang != "en":
        english = english_by_id(root, split)
        if english is None:
            en_tsv = root / fleurs_dir("en") / f"{split}.tsv"
            logger.warning("no %s: FLEURS %s/%s gets no ST examples", en_tsv, lang, split)
    skips = Skips(f"rows of {tsv}")
    seen = set()
    utts: List[Utterance] = []
    for row in rows:
        audio = lang_dir / "audio" / split / row.file_name
        if row.file_name in seen:
            skips.add("repeats an earlier file_name", row.file_name)
            continue
        seen.add(row.file_name)
        if not row.transcription:
            skips.add("empty transcription", f"id {row.id}")
            continue
        if not audio.is_file():
            skips.add("audio file missing", str(audio))
            continue
        speaker = speaker_id(CORPUS, iso, Path(row.file_name).stem)
        for task in tasks:
            if task == "asr":
                target = row.transcription
            elif english is None:
                continue
            elif row.id not in english:
                skips.add(f"id not in the English tsv ({task} example dropped)", f"id {row.id}")
                continue
            else:
                target = english[row.id]
            utts.append(
                Utterance(
                    utt_id=utt_id(speaker, row.id, task),
                    wav=str(audio),
                    speaker=speaker,
                    lang=iso,
                    task=task,
                    source_text=row.transcription,
                    target_text=target,
                    duration=None if row.num_samples is None else row.num_samples / SAMPLE_RATE,
                )
            )
    skips.log(total=len(rows))
    return utts


def read_fleurs(root: Union[str, Path], langs: Sequence[str], tasks: Sequence[str]) -> Dict[str, List[Utterance]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` over ``langs`` (2-letter codes) and OWSM
    ``tasks``; English itself (``en``) gets ASR only."""
    base = require_root(root, "FLEURS", DB_VAR)
    return {split: [u for lang in langs for u in read_split(base, lang, split, tasks)] for split in SPLITS}
