"""Europarl-ST v1.1 (source -> English): read it into OWSM utterances, or write it.

Layout under the root (the ``v1.1`` dir, db.sh ``EUROPARL_ST``)::

    {src}/audios/{audio_id}.m4a
    {src}/en/{train,dev,test}/segments.lst      "<audio_id> <start_s> <end_s>" per line
    {src}/en/{split}/segments.{src}             transcript, line-aligned with segments.lst
    {src}/en/{split}/segments.en                English translation, line-aligned

Each audio file is one speech by one Member of Parliament, and the corpus gives no speaker ids
that link speeches, so the speaker is the audio id (one speech per speaker). Segments stay
segments of the speech (Kaldi ``segments``); stage 3 cuts them out.

The writers keep that shape, so that a reader of written data must cut by time too:
:func:`write_split` writes the segment files (times with 2 decimals), :func:`encode_m4a` a
speech's audio as AAC in m4a, bit-exactly.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

from espnet_dynprune.corpora.checks import Skips, require_root
from espnet_dynprune.corpora.languages import to_iso639_3
from espnet_dynprune.corpora.naming import speaker_id, time_span, utt_id
from espnet_dynprune.owsm.datadir import Segment, Utterance, read_lines

CORPUS = "epst"
DB_VAR = "EUROPARL_ST"
TARGET = "en"
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class EuroparlSegment:
    """One segment: a line of segments.lst and the same line of the transcript and translation."""

    audio_id: str
    start: float
    end: float
    transcript: str
    translation: str


def audio_path(root: Path, src: str, audio_id: str) -> Path:
    """``ROOT/{src}/audios/{audio_id}.m4a``."""
    return root / src / "audios" / f"{audio_id}.m4a"


def segment_files(root: Path, src: str, split: str) -> Tuple[Path, Path, Path]:
    """``segments.lst``, ``segments.{src}`` and ``segments.en`` of ``ROOT/{src}/en/{split}``."""
    split_dir = root / src / TARGET / split
    return split_dir / "segments.lst", split_dir / f"segments.{src}", split_dir / f"segments.{TARGET}"


# ---------------------------------------------------------------- reading
def _read_lines(path: Path) -> List[str]:
    if not path.is_file():
        raise FileNotFoundError(f"Europarl-ST file {path} not found")
    return read_lines(path)


def read_segments(root: Path, src: str, split: str) -> List[EuroparlSegment]:
    """The segments of one split in file order, texts whitespace-normalised.

    Line counts of the three files must agree (else ``ValueError`` naming them), and every
    segments.lst line must be ``<audio_id> <start> <end>`` (else naming file and line).
    """
    files = segment_files(root, src, split)
    segs, sources, targets = (_read_lines(f) for f in files)
    if not len(segs) == len(sources) == len(targets):
        counts = ", ".join(f"{f} has {n} lines" for f, n in zip(files, map(len, (segs, sources, targets))))
        raise ValueError(f"Europarl-ST files are not line-aligned: {counts}")
    out: List[EuroparlSegment] = []
    for lineno, (seg, source, target) in enumerate(zip(segs, sources, targets), 1):
        fields = seg.split()
        try:
            audio_id, start, end = fields[0], float(fields[1]), float(fields[2])
            if len(fields) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(f"{files[0]}:{lineno}: expected '<audio_id> <start> <end>', got {seg!r}") from None
        out.append(EuroparlSegment(audio_id, start, end, " ".join(source.split()), " ".join(target.split())))
    return out


def read_split(root: Path, src: str, split: str, tasks: Sequence[str]) -> List[Utterance]:
    """Utterances of one ``{src}/en/{split}`` dir, for each OWSM task in ``tasks``.

    Segments with an empty transcript, ``end <= start`` or a missing audio file are skipped
    (counted and logged), as are ST examples with an empty translation and repeated segments.
    """
    if src == TARGET:
        raise ValueError(f"Europarl-ST source language {src!r} is the target language {TARGET!r}")
    lang = to_iso639_3(src)
    lst, transcripts, _ = segment_files(root, src, split)
    segments = read_segments(root, src, split)
    skips = Skips(f"segments of {src}/{TARGET}/{split}")
    audio_exists: Dict[str, bool] = {}
    seen = set()
    utts: List[Utterance] = []
    for lineno, seg in enumerate(segments, 1):
        where = f"{lst}:{lineno}"
        audio = audio_path(root, src, seg.audio_id)
        if seg.audio_id not in audio_exists:
            audio_exists[seg.audio_id] = audio.is_file()
        span = time_span(seg.start, seg.end)
        if seg.end <= seg.start:
            skips.add("end <= start", where)
        elif not audio_exists[seg.audio_id]:
            skips.add("audio file missing", str(audio))
        elif not seg.transcript:
            skips.add(f"empty transcript in {transcripts.name}", where)
        elif (seg.audio_id, span) in seen:
            skips.add("repeats an earlier segment", where)
        else:
            seen.add((seg.audio_id, span))
            utts.extend(_utterances(lang, seg, str(audio), tasks, skips, where))
    skips.log(total=len(segments))
    return utts


def _utterances(
    lang: str, seg: EuroparlSegment, wav: str, tasks: Sequence[str], skips: Skips, where: str
) -> List[Utterance]:
    speaker = speaker_id(CORPUS, lang, seg.audio_id)
    out = []
    for task in tasks:
        target = seg.transcript if task == "asr" else seg.translation
        if not target:
            skips.add(f"empty translation ({task} example dropped)", where)
            continue
        out.append(
            Utterance(
                utt_id=utt_id(speaker, time_span(seg.start, seg.end), task),
                wav=wav,
                speaker=speaker,
                lang=lang,
                task=task,
                source_text=seg.transcript,
                target_text=target,
                duration=seg.end - seg.start,
                segment=Segment(speaker, seg.start, seg.end),
            )
        )
    return out


def read_europarl_st(
    root: Union[str, Path], langs: Sequence[str], tasks: Sequence[str]
) -> Dict[str, List[Utterance]]:
    """``{"train": [...], "dev": [...], "test": [...]}`` over the source languages ``langs``
    (2-letter codes) and OWSM tasks ``tasks`` (``asr``, ``st_eng``)."""
    base = require_root(root, "Europarl-ST", DB_VAR)
    return {split: [u for src in langs for u in read_split(base, src, split, tasks)] for split in SPLITS}


# ---------------------------------------------------------------- writing
class FfmpegError(RuntimeError):
    """ffmpeg is missing or failed to encode an audio file."""


def ffmpeg_binary() -> str:
    """Path of ``ffmpeg``; raises :class:`FfmpegError` with the install hint when absent."""
    path = shutil.which("ffmpeg")
    if path is None:
        raise FfmpegError("`ffmpeg` was not found on PATH; install it with `apt-get install ffmpeg` (`make sysdeps`)")
    return path


def encode_m4a(audio: np.ndarray, path: Path, *, sample_rate: int, bitrate: str = "64k") -> None:
    """Encode mono float audio at ``sample_rate`` to AAC in ``path`` (.m4a), bit-exactly.

    ``+bitexact`` and no metadata keep the file identical across runs; the ``fast`` AAC coder is
    ~5x cheaper than the default ``twoloop`` (0.14 vs 0.68 CPU-s per minute of speech).
    """
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    cmd = [
        ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
        "-c:a", "aac", "-aac_coder", "fast", "-b:a", bitrate,
        "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
        str(path),
    ]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, input=pcm, capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise FfmpegError(f"ffmpeg failed (rc={proc.returncode}) writing {path}: {err}")


def write_split(root: Path, src: str, split: str, segments: Sequence[EuroparlSegment]) -> int:
    """Write segments.lst / segments.{src} / segments.en of one split; return the segment count.

    A text with a line break would shift every later line of its file, so it raises instead.
    """
    lst, transcripts, translations = [], [], []
    for seg in segments:
        for name, text in (("transcript", seg.transcript), ("translation", seg.translation)):
            if "\n" in text or "\r" in text:
                raise ValueError(f"Europarl-ST segment {seg.audio_id} {seg.start:.2f}: {name}={text!r} spans lines")
        lst.append(f"{seg.audio_id} {seg.start:.2f} {seg.end:.2f}\n")
        transcripts.append(seg.transcript + "\n")
        translations.append(seg.translation + "\n")
    files = segment_files(root, src, split)
    files[0].parent.mkdir(parents=True, exist_ok=True)
    for path, lines in zip(files, (lst, transcripts, translations), strict=True):
        path.write_text("".join(lines), encoding="utf-8", newline="\n")
    return len(lst)
