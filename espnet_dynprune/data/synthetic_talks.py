"""Synthetic Europarl-ST talks: espeak speakers saying consecutive sentences, written as a real speech.

Why talks and not one file per sentence: Europarl-ST's audio files are whole speeches and its
segments are times in them, so a reader must cut by time; the mini corpus keeps that shape. A
talk is one espeak speaker saying consecutive sentences with noise-floor pauses between them; its
audio id mimics the real ones (``fr.20110412.12.3-145``: language, sitting date, agenda point,
item, speaker number). The layout itself (paths, segment files, m4a) is
:mod:`espnet_dynprune.corpora.europarl_st`.
"""

from __future__ import annotations

import datetime
import random
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import numpy as np

from espnet_dynprune.corpora.europarl_st import EuroparlSegment, encode_m4a, write_split
from espnet_dynprune.data.espeak import SAMPLE_RATE, Speaker, read_wav
from espnet_dynprune.data.sentences import SentencePair

#: Sentences per synthetic talk (the last talk of a split may be shorter).
TALK_SENTENCES = (3, 8)
_LEAD_S, _GAP_S = (0.2, 1.0), (0.1, 0.5)
_FIRST_SITTING = datetime.date(2008, 1, 7)


@dataclass(frozen=True)
class Talk:
    """One synthetic audio file of the corpus: ``speaker`` says ``pairs`` in order."""

    audio_id: str
    speaker: Speaker
    pairs: Tuple[SentencePair, ...]


#: (lang, split, talk, (start, end) seconds of each sentence in the talk)
TalkTimes = Tuple[str, str, Talk, Sequence[Tuple[float, float]]]


def audio_ids(lang: str, n: int, *, seed: int) -> List[str]:
    """``n`` distinct, deterministic ids like ``fr.20110412.12.3-145``."""
    rng = random.Random(f"europarl-st-ids-{lang}-{seed}")
    ids: List[str] = []
    seen: Set[str] = set()
    while len(ids) < n:
        day = _FIRST_SITTING + datetime.timedelta(days=rng.randrange(5 * 365))
        audio_id = f"{lang}.{day:%Y%m%d}.{rng.randint(1, 25)}.{rng.randint(1, 9)}-{rng.randint(1, 400):03d}"
        if audio_id not in seen:
            seen.add(audio_id)
            ids.append(audio_id)
    return ids


def plan_talks(
    pairs: Sequence[SentencePair], speakers: Sequence[Speaker], ids: Sequence[str], *, rng: random.Random
) -> List[Talk]:
    """Cut ``pairs`` into consecutive talks of :data:`TALK_SENTENCES` sentences.

    Talk ``k`` gets ``ids[k]`` and a speaker drawn from ``speakers``; raises when ``ids`` run out.
    """
    talks: List[Talk] = []
    start = 0
    while start < len(pairs):
        if len(talks) == len(ids):
            raise ValueError(f"{len(ids)} audio ids are not enough for {len(pairs)} sentences")
        size = rng.randint(*TALK_SENTENCES)
        talks.append(Talk(ids[len(talks)], rng.choice(list(speakers)), tuple(pairs[start : start + size])))
        start += size
    return talks


def assemble_talk(
    talk: Talk, sentence_wavs: Sequence[Path], out_path: Path, *, seed: int, noise_dbfs: float
) -> List[Tuple[float, float]]:
    """Concatenate the sentence WAVs with noise-floor pauses into ``out_path``; return segment times.

    A segment spans one sentence WAV (speech plus its short padded lead-in and tail); the pauses,
    the lead-in before the first and the tail after the last sentence are noise at ``noise_dbfs``,
    the level espeak.py gives the sentence files, so the floor is continuous.
    """
    if len(sentence_wavs) != len(talk.pairs):
        raise ValueError(f"talk {talk.audio_id}: {len(sentence_wavs)} WAVs for {len(talk.pairs)} sentences")
    rng = random.Random(f"talk-{talk.audio_id}-{seed}")
    noise = np.random.default_rng([seed, zlib.crc32(talk.audio_id.encode("utf-8"))])
    level = np.float32(10.0 ** (noise_dbfs / 20.0))

    def pause(low_high: Tuple[float, float]) -> np.ndarray:
        n = int(round(rng.uniform(*low_high) * SAMPLE_RATE))
        return noise.standard_normal(n).astype(np.float32) * level

    parts: List[np.ndarray] = [pause(_LEAD_S)]
    times: List[Tuple[float, float]] = []
    offset = parts[0].shape[0]
    for k, wav in enumerate(sentence_wavs):
        if k:
            parts.append(pause(_GAP_S))
            offset += parts[-1].shape[0]
        parts.append(read_wav(wav))
        times.append((offset / SAMPLE_RATE, (offset + parts[-1].shape[0]) / SAMPLE_RATE))
        offset += parts[-1].shape[0]
    parts.append(pause(_LEAD_S))
    encode_m4a(np.concatenate(parts), out_path, sample_rate=SAMPLE_RATE)
    return times


def write_splits(root: Path, entries: Sequence[TalkTimes]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Write every split of ``(lang, split, talk, segment times)`` entries, keeping their order.

    Returns ``{lang: {split: {"talks": n, "sentences": n, "seconds": s}}}`` (seconds of segments).
    """
    counts: Dict[str, Dict[str, Dict[str, float]]] = {}
    for lang, split in dict.fromkeys((e[0], e[1]) for e in entries):
        sel = [(talk, tt) for lg, sp, talk, tt in entries if (lg, sp) == (lang, split)]
        segments = [
            EuroparlSegment(talk.audio_id, start, end, pair.source, pair.english)
            for talk, tt in sel
            for pair, (start, end) in zip(talk.pairs, tt, strict=True)
        ]
        n = write_split(root, lang, split, segments)
        seconds = sum(end - start for _, tt in sel for start, end in tt)
        counts.setdefault(lang, {})[split] = {"talks": len(sel), "sentences": n, "seconds": round(seconds, 2)}
    return counts
