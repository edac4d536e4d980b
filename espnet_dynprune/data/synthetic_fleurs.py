"""Synthetic FLEURS recordings: espeak speakers reading n-way parallel sentences.

Why ids and genders are made up here: FLEURS' sentence ids and file names are the readers' keys
(the ST join, speaker ids), so synthetic ones mimic their ranges and shapes; the gender column
comes from the espeak voice variant. The layout itself (paths, TSV rows) is
:mod:`espnet_dynprune.corpora.fleurs`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import soundfile

from espnet_dynprune.corpora.fleurs import SAMPLE_RATE, FleursRow, write_tsv
from espnet_dynprune.data.espeak import Speaker


@dataclass(frozen=True)
class Recording:
    """A synthetic recording to synthesise to ``path``, then describe with a :class:`FleursRow`."""

    lang_dir: str
    split: str
    sentence_id: int
    text: str
    path: Path
    speaker: Speaker


def gender(speaker: Speaker) -> str:
    """FLEURS gender of an espeak speaker: the ``f*`` variants are female."""
    return "FEMALE" if speaker.variant.startswith("f") else "MALE"


def sentence_ids(n: int, *, seed: int) -> List[int]:
    """``n`` distinct sentence ids in FLoRes' range (1..2009, wider when ``n`` needs it)."""
    rng = random.Random(f"fleurs-ids-{seed}")
    return rng.sample(range(1, max(2010, 4 * n)), n)


def file_names(lang_dir: str, n: int, *, seed: int) -> List[str]:
    """``n`` distinct file names like the real ones (``10004088536354799741.wav``)."""
    rng = random.Random(f"fleurs-files-{lang_dir}-{seed}")
    names: List[str] = []
    seen: Set[str] = set()
    while len(names) < n:
        name = f"{rng.randrange(10**18, 10**19)}.wav"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def write_tsvs(root: Path, recordings: Sequence[Recording]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Write the TSV of every (lang_dir, split) for synthesised ``recordings`` (in order).

    Returns ``{lang_dir: {split: {"sentences": n, "seconds": s}}}``; ``num_samples`` is read from each WAV.
    """
    rows: Dict[Tuple[str, str], List[FleursRow]] = {}
    samples: Dict[Tuple[str, str], int] = {}
    for rec in recordings:
        num_samples = soundfile.info(str(rec.path)).frames
        row = FleursRow.from_text(rec.sentence_id, rec.path.name, rec.text, num_samples, gender(rec.speaker))
        rows.setdefault((rec.lang_dir, rec.split), []).append(row)
        samples[rec.lang_dir, rec.split] = samples.get((rec.lang_dir, rec.split), 0) + num_samples
    counts: Dict[str, Dict[str, Dict[str, float]]] = {}
    for (lang_dir, split), split_rows in rows.items():
        write_tsv(root, lang_dir, split, split_rows)
        seconds = samples[lang_dir, split] / SAMPLE_RATE
        counts.setdefault(lang_dir, {})[split] = {"sentences": len(split_rows), "seconds": round(seconds, 2)}
    return counts
