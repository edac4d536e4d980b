"""Write synthetic recordings in the layout of FLEURS (google/fleurs, audio extracted).

Layout under ``ROOT`` (= ``DIR/fleurs``)::

    ROOT/{config}/{split}.tsv                          split in train, dev, test
    ROOT/{config}/audio/{split}/{file_name}            16 kHz mono PCM_16 WAV

TSV rows, tab-separated, no header: ``id  file_name  raw_transcription  transcription  chars
num_samples  gender``. ``id`` is the sentence id shared by all languages (FLEURS is n-way parallel,
so the ``en_us`` row with the same id is the English version), ``transcription`` is lower case
without punctuation, ``raw_transcription`` the written form (capital first letter, final period),
``chars`` the transcription's characters separated by spaces with ``|`` between words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import soundfile

from espnet_dynprune.data.espeak import SAMPLE_RATE, Speaker

#: FLEURS configs of the languages we have a lexicon for: 2-letter code -> config name.
FLEURS_CONFIGS = {"fr": "fr_fr", "de": "de_de", "it": "it_it", "hu": "hu_hu", "bg": "bg_bg", "en": "en_us"}
#: 2-letter code -> ISO-639-3 (lexicon column / espeak voice).
FLEURS_ISO3 = {"fr": "fra", "de": "deu", "it": "ita", "hu": "hun", "bg": "bul", "en": "eng"}


@dataclass(frozen=True)
class FleursRow:
    """One recording: one TSV line and one WAV."""

    sentence_id: int
    file_name: str
    transcription: str
    num_samples: int
    gender: str

    def __post_init__(self) -> None:
        if self.gender not in ("MALE", "FEMALE"):
            raise ValueError(f"FleursRow {self.file_name}: gender={self.gender!r} must be MALE or FEMALE")
        if not self.transcription.strip() or any(c in self.transcription for c in "\t\n\r"):
            raise ValueError(f"FleursRow {self.file_name}: transcription={self.transcription!r} must be one TSV field")

    def tsv_line(self) -> str:
        fields = (
            str(self.sentence_id),
            self.file_name,
            raw_transcription(self.transcription),
            self.transcription,
            chars(self.transcription),
            str(self.num_samples),
            self.gender,
        )
        return "\t".join(fields) + "\n"


@dataclass(frozen=True)
class Recording:
    """A recording to synthesise to ``path``, then describe with a :class:`FleursRow`."""

    config: str
    split: str
    sentence_id: int
    text: str
    path: Path
    speaker: Speaker


def raw_transcription(text: str) -> str:
    """The written form FLEURS keeps next to the normalised one: ``Le conseil examine le rapport.``"""
    return text[:1].upper() + text[1:] + "."


def chars(text: str) -> str:
    """``"le rapport"`` -> ``"l e | r a p p o r t"``."""
    return " | ".join(" ".join(word) for word in text.split())


def gender(speaker: Speaker) -> str:
    """FLEURS gender of an espeak speaker: the ``f*`` variants are female."""
    return "FEMALE" if speaker.variant.startswith("f") else "MALE"


def tsv_path(root: Path, config: str, split: str) -> Path:
    return root / config / f"{split}.tsv"


def wav_path(root: Path, config: str, split: str, file_name: str) -> Path:
    return root / config / "audio" / split / file_name


def sentence_ids(n: int, *, seed: int) -> List[int]:
    """``n`` distinct sentence ids in FLoRes' range (1..2009, wider when ``n`` needs it)."""
    rng = random.Random(f"fleurs-ids-{seed}")
    return rng.sample(range(1, max(2010, 4 * n)), n)


def file_names(config: str, n: int, *, seed: int) -> List[str]:
    """``n`` distinct file names like the real ones (``10004088536354799741.wav``)."""
    rng = random.Random(f"fleurs-files-{config}-{seed}")
    names: List[str] = []
    seen: Set[str] = set()
    while len(names) < n:
        name = f"{rng.randrange(10**18, 10**19)}.wav"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def write_tsv(root: Path, config: str, split: str, rows: Sequence[FleursRow]) -> Path:
    """Write ``ROOT/{config}/{split}.tsv``; return its path."""
    path = tsv_path(root, config, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(row.tsv_line() for row in rows), encoding="utf-8", newline="\n")
    return path


def write_tsvs(root: Path, recordings: Sequence[Recording]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Write the TSV of every (config, split) for synthesised ``recordings`` (in order).

    Returns ``{config: {split: {"sentences": n, "seconds": s}}}``; ``num_samples`` is read from each WAV.
    """
    rows: Dict[Tuple[str, str], List[FleursRow]] = {}
    for rec in recordings:
        num_samples = soundfile.info(str(rec.path)).frames
        row = FleursRow(rec.sentence_id, rec.path.name, rec.text, num_samples, gender(rec.speaker))
        rows.setdefault((rec.config, rec.split), []).append(row)
    counts: Dict[str, Dict[str, Dict[str, float]]] = {}
    for (config, split), split_rows in rows.items():
        write_tsv(root, config, split, split_rows)
        seconds = sum(r.num_samples for r in split_rows) / SAMPLE_RATE
        counts.setdefault(config, {})[split] = {"sentences": len(split_rows), "seconds": round(seconds, 2)}
    return counts
