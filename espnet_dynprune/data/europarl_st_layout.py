"""Write synthetic talks in the on-disk layout of Europarl-ST v1.1 (source -> English only).

Layout under ``ROOT`` (= ``DIR/europarl_st/v1.1``), as read by fairseq's Europarl-ST scripts::

    ROOT/{src}/audios/{audio_id}.m4a                  one talk: one speaker, several sentences
    ROOT/{src}/en/{split}/segments.lst                "<audio_id> <start_sec> <end_sec>" (2 decimals)
    ROOT/{src}/en/{split}/segments.{src}              transcript, line-aligned with segments.lst
    ROOT/{src}/en/{split}/segments.en                 English translation, line-aligned

Why talks instead of one file per sentence: the real corpus gives whole speeches plus segment
times, so a reader must cut by time; a talk here is one espeak speaker saying consecutive
sentences with noise-floor pauses between them. Audio ids mimic the real ones
(``fr.20110412.12.3-145``: language, sitting date, agenda point, item, speaker number).
"""

from __future__ import annotations

import datetime
import random
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

import numpy as np

from espnet_dynprune.data.espeak import SAMPLE_RATE, Speaker, read_wav
from espnet_dynprune.data.sentences import SentencePair

#: Europarl-ST source languages we have a lexicon for: corpus code -> ISO-639-3.
EUROPARL_ST_LANGS = {"fr": "fra", "de": "deu", "it": "ita"}
TARGET = "en"
#: Sentences per talk (the last talk of a split may be shorter).
TALK_SENTENCES = (3, 8)
_LEAD_S, _GAP_S = (0.2, 1.0), (0.1, 0.5)
_FIRST_SITTING = datetime.date(2008, 1, 7)


class FfmpegError(RuntimeError):
    """ffmpeg is missing or failed to encode a talk."""


@dataclass(frozen=True)
class Talk:
    """One audio file of the corpus: ``speaker`` says ``pairs`` in order."""

    audio_id: str
    speaker: Speaker
    pairs: Tuple[SentencePair, ...]


#: (lang, split, talk, (start, end) seconds of each sentence in the talk)
TalkTimes = Tuple[str, str, Talk, Sequence[Tuple[float, float]]]


def audio_path(root: Path, lang: str, audio_id: str) -> Path:
    """``ROOT/{lang}/audios/{audio_id}.m4a``."""
    return root / lang / "audios" / f"{audio_id}.m4a"


def split_dir(root: Path, lang: str, split: str) -> Path:
    """``ROOT/{lang}/en/{split}``: segments.lst and the two text files."""
    return root / lang / TARGET / split


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


def ffmpeg_binary() -> str:
    """Path of ``ffmpeg``; raises :class:`FfmpegError` with the install hint when absent."""
    path = shutil.which("ffmpeg")
    if path is None:
        raise FfmpegError("`ffmpeg` was not found on PATH; install it with `apt-get install ffmpeg` (`make sysdeps`)")
    return path


def encode_m4a(audio: np.ndarray, path: Path, *, bitrate: str = "64k") -> None:
    """Encode mono float audio at :data:`SAMPLE_RATE` to AAC in ``path`` (.m4a), bit-exactly.

    ``+bitexact`` and no metadata keep the file identical across runs; the ``fast`` AAC coder is
    ~5x cheaper than the default ``twoloop`` (0.14 vs 0.68 CPU-s per minute of speech).
    """
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    cmd = [
        ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate,
        "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
        str(path),
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, input=pcm, capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise FfmpegError(f"ffmpeg failed (rc={proc.returncode}) writing {path}: {err}")


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
    encode_m4a(np.concatenate(parts), out_path)
    return times


def write_split(
    root: Path, lang: str, split: str, talks: Sequence[Talk], times: Sequence[Sequence[Tuple[float, float]]]
) -> int:
    """Write segments.lst / segments.{lang} / segments.en of one split; return the segment count."""
    lst, src, eng = [], [], []
    for talk, talk_times in zip(talks, times, strict=True):
        for pair, (start, end) in zip(talk.pairs, talk_times, strict=True):
            lst.append(f"{talk.audio_id} {start:.2f} {end:.2f}\n")
            src.append(pair.source + "\n")
            eng.append(pair.english + "\n")
    out = split_dir(root, lang, split)
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in (("segments.lst", lst), (f"segments.{lang}", src), (f"segments.{TARGET}", eng)):
        (out / name).write_text("".join(lines), encoding="utf-8", newline="\n")
    return len(lst)


def write_splits(root: Path, entries: Sequence[TalkTimes]) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Write every split of ``(lang, split, talk, segment times)`` entries, keeping their order.

    Returns ``{lang: {split: {"talks": n, "sentences": n, "seconds": s}}}`` (seconds of segments).
    """
    counts: Dict[str, Dict[str, Dict[str, float]]] = {}
    for lang, split in dict.fromkeys((e[0], e[1]) for e in entries):
        sel = [(talk, tt) for lg, sp, talk, tt in entries if (lg, sp) == (lang, split)]
        n = write_split(root, lang, split, [talk for talk, _ in sel], [tt for _, tt in sel])
        seconds = sum(end - start for _, tt in sel for start, end in tt)
        counts.setdefault(lang, {})[split] = {"talks": len(sel), "sentences": n, "seconds": round(seconds, 2)}
    return counts
