"""FLEURS (google/fleurs, audio extracted): read it into OWSM utterances, or write it.

Layout under the root (db.sh ``FLEURS``)::

    {lang_dir}/{train,dev,test}.tsv          one :class:`FleursRow` per line, no header
    {lang_dir}/audio/{split}/{file_name}     16 kHz mono wav

``lang_dir`` is ``{lang}_{region}`` (:func:`~espnet_dynprune.corpora.languages.fleurs_dir`). TSV
columns, tab-separated: ``id file_name raw_transcription transcription chars num_samples gender``.
``id`` is the sentence id shared by all languages: FLEURS is n-way parallel, so rows with the
same ``id`` say the same sentence in every language, the ``en_us`` one in English.

Reading: ASR uses the ``transcription`` column (FLEURS' normalised text: lower case, no
punctuation), which is also ``text.ctc``. ST joins on ``id`` with ``en_us/{split}.tsv`` and uses
the English ``raw_transcription``: cased and punctuated, like Europarl-ST's translations and
OWSM's own ST targets, and scored with BLEU. Several rows of one ``id`` (different readers) each
become an utterance; all English rows of one ``id`` carry the same sentence, the first one is
used. Rows whose ``id`` is missing from the English file get no ST example (counted and logged).
FLEURS has no speaker ids, so each row (recording) is its own speaker.

Writing: :meth:`FleursRow.from_text` derives ``raw_transcription`` (capital first letter, final
period) and ``chars`` from a lower-case ``transcription``; :func:`write_tsv` writes a split's rows.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from espnet_dynprune.corpora.checks import Skips, require_root
from espnet_dynprune.corpora.languages import fleurs_dir, to_iso639_3
from espnet_dynprune.corpora.naming import speaker_id, utt_id
from espnet_dynprune.owsm.datadir import Utterance, read_lines

logger = logging.getLogger(__name__)

CORPUS = "fleurs"
DB_VAR = "FLEURS"
SPLITS = ("train", "dev", "test")
SAMPLE_RATE = 16000
GENDERS = ("MALE", "FEMALE")


@dataclass(frozen=True)
class FleursRow:
    """One line of a FLEURS ``{split}.tsv``: one recording. ``num_samples`` is None when the
    column is not a number."""

    id: str
    file_name: str
    raw_transcription: str
    transcription: str
    chars: str
    num_samples: Optional[int]
    gender: str

    @classmethod
    def from_text(
        cls, sentence_id: int, file_name: str, transcription: str, num_samples: int, gender: str
    ) -> FleursRow:
        """The row of a recording known by its normalised text; the other text columns derive from it."""
        if gender not in GENDERS:
            raise ValueError(f"FleursRow {file_name}: gender={gender!r} must be MALE or FEMALE")
        if not transcription.strip():
            raise ValueError(f"FleursRow {file_name}: transcription={transcription!r} is empty")
        raw = raw_transcription(transcription)
        return cls(str(sentence_id), file_name, raw, transcription, chars(transcription), num_samples, gender)

    def tsv_line(self) -> str:
        """The row as a TSV line; a field holding a tab or line break raises (it would shift columns)."""
        values = dataclasses.astuple(self)
        fields = ["" if v is None else str(v) for v in values]
        for name, value in zip(COLUMNS, fields, strict=True):
            if any(c in value for c in "\t\n\r"):
                raise ValueError(f"FleursRow {self.file_name}: {name}={value!r} must be one TSV field")
        return "\t".join(fields) + "\n"


#: The TSV columns, in file order.
COLUMNS: Tuple[str, ...] = tuple(f.name for f in dataclasses.fields(FleursRow))


def tsv_path(root: Path, lang_dir: str, split: str) -> Path:
    """``ROOT/{lang_dir}/{split}.tsv``."""
    return root / lang_dir / f"{split}.tsv"


def wav_path(root: Path, lang_dir: str, split: str, file_name: str) -> Path:
    """``ROOT/{lang_dir}/audio/{split}/{file_name}``."""
    return root / lang_dir / "audio" / split / file_name


# ---------------------------------------------------------------- reading
def read_tsv(path: Path) -> List[FleursRow]:
    """Rows of a FLEURS tsv, texts whitespace-normalised; a line without the 7 columns raises
    naming file and line."""
    rows = []
    for lineno, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(COLUMNS) or not fields[0] or not fields[1]:
            raise ValueError(
                f"{path}:{lineno}: expected {len(COLUMNS)} tab-separated columns ({', '.join(COLUMNS)}), "
                f"got {len(fields)}"
            )
        samples = fields[5].strip()
        rows.append(
            FleursRow(
                id=fields[0].strip(),
                file_name=fields[1].strip(),
                raw_transcription=" ".join(fields[2].split()),
                transcription=" ".join(fields[3].split()),
                chars=fields[4].strip(),
                num_samples=int(samples) if samples.isdigit() else None,
                gender=fields[6].strip(),
            )
        )
    return rows


def english_by_id(root: Path, split: str) -> Optional[Dict[str, str]]:
    """``id -> English raw transcription`` from ``en_us/{split}.tsv`` (None if it is absent)."""
    path = tsv_path(root, fleurs_dir("en"), split)
    if not path.is_file():
        return None
    out: Dict[str, str] = {}
    for row in read_tsv(path):
        if row.raw_transcription:
            out.setdefault(row.id, row.raw_transcription)
    return out


def read_split(root: Path, lang: str, split: str, tasks: Sequence[str]) -> List[Utterance]:
    """Utterances of ``{lang_dir}/{split}.tsv`` for each OWSM task in ``tasks``."""
    iso = to_iso639_3(lang)
    lang_dir = fleurs_dir(lang)
    tsv = tsv_path(root, lang_dir, split)
    if not tsv.is_file():
        raise FileNotFoundError(f"FLEURS file {tsv} not found (language {lang!r}, split {split!r})")
    rows = read_tsv(tsv)
    english = None
    st_tasks = [t for t in tasks if t != "asr"]
    if st_tasks and lang != "en":
        english = english_by_id(root, split)
        if english is None:
            en_tsv = tsv_path(root, fleurs_dir("en"), split)
            logger.warning("no %s: FLEURS %s/%s gets no ST examples", en_tsv, lang, split)
    skips = Skips(f"rows of {tsv}")
    seen = set()
    utts: List[Utterance] = []
    for row in rows:
        audio = wav_path(root, lang_dir, split, row.file_name)
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


# ---------------------------------------------------------------- writing
def raw_transcription(text: str) -> str:
    """The written form FLEURS keeps next to the normalised one: ``Le conseil examine le rapport.``"""
    return text[:1].upper() + text[1:] + "."


def chars(text: str) -> str:
    """``"le rapport"`` -> ``"l e | r a p p o r t"``."""
    return " | ".join(" ".join(word) for word in text.split())


def write_tsv(root: Path, lang_dir: str, split: str, rows: Sequence[FleursRow]) -> Path:
    """Write ``ROOT/{lang_dir}/{split}.tsv``; return its path."""
    path = tsv_path(root, lang_dir, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(row.tsv_line() for row in rows), encoding="utf-8", newline="\n")
    return path
