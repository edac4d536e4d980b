"""Decode any corpus audio (m4a, mp3, flac, wav) to 16-bit mono PCM at one sample rate.

Europarl-ST ships AAC in m4a, which libsndfile cannot read, so decoding goes through an
``ffmpeg`` subprocess (``-ac 1 -ar RATE -f s16le``). WAV/FLAC files already at the target rate
(FLEURS, most of VoxForge) are read with soundfile instead: same samples, no process start.

A WAV with fewer sample bytes than its header declares (an interrupted copy) is unreadable too:
libsndfile would read what is there without a word. ffmpeg exits 0 on a damaged file: it drops the packets it cannot decode and carries on, so a
talk with a corrupt stretch comes out seconds short and every later segment would be cut at the
wrong time. Hence a file counts as unreadable (``AudioError``) when ffmpeg logs any error, or when
the decoded length disagrees with the length the container indexes (ffprobe) by more than
:data:`LENGTH_TOLERANCE_FRAMES` AAC frames; a damaged timing table, for one, shortens the audio
without a single error message.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import soundfile

_SOUNDFILE_SUFFIXES = (".wav", ".flac")
AAC_FRAME = 1024  # samples per AAC-LC frame
# Clean m4a files decode to between -1 and +956 source samples of the indexed length (ffmpeg 5.1:
# the final frame's padding is kept); 4 frames also leave room for encoders without an edit list,
# whose 1024-2112 priming samples are decoded too.
LENGTH_TOLERANCE_FRAMES = 4


class AudioError(RuntimeError):
    """The file could not be decoded (missing, corrupt, or not audio)."""


def _read_soundfile(path: str, sample_rate: int) -> Optional[np.ndarray]:
    """Samples if soundfile reads ``path`` at ``sample_rate`` already, else None (use ffmpeg)."""
    if Path(path).suffix.lower() not in _SOUNDFILE_SUFFIXES:
        return None
    try:
        if soundfile.info(path).samplerate != sample_rate:
            return None
        data, _ = soundfile.read(path, dtype="int16", always_2d=True)
    except (RuntimeError, soundfile.SoundFileError):
        return None
    if data.shape[1] == 1:
        return data[:, 0]
    return data.mean(axis=1).round().astype(np.int16)


def _indexed_length(path: str) -> Optional[Tuple[float, int]]:
    """``(seconds, sample rate)`` of the first audio stream where the container indexes its
    packets (MP4/M4A: ffprobe's ``nb_frames``), else None: other containers may only estimate the
    length (an MP3 without a Xing header from its bitrate, off by seconds)."""
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-of", "json",
         "-show_entries", "stream=duration,nb_frames,sample_rate", path],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AudioError(f"ffprobe could not read {path}: {proc.stderr.strip() or proc.returncode}")
    stream = (json.loads(proc.stdout).get("streams") or [{}])[0]
    if any(stream.get(k, "N/A") == "N/A" for k in ("duration", "nb_frames", "sample_rate")):
        return None
    return float(stream["duration"]), int(stream["sample_rate"])


def _ffmpeg_decode(path: str, sample_rate: int) -> np.ndarray:
    """Decode with ffmpeg; any error it logs, even with exit status 0, raises ``AudioError``."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found on PATH; it is needed to decode {path}")
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-"],
        capture_output=True,
    )
    errors = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0 or errors:
        reason = f"{errors[0]} ({len(errors)} error lines)" if errors else f"exit status {proc.returncode}"
        raise AudioError(f"ffmpeg could not decode {path}: {reason}")
    return np.frombuffer(proc.stdout, dtype="<i2").astype(np.int16)


def _check_wav_complete(path: str) -> None:
    """Raise ``AudioError`` when a WAV holds fewer sample bytes than its header declares.

    libsndfile (and ffmpeg) read a WAV cut short by an interrupted copy up to its end without a
    word, so a whole-file utterance would keep half its audio against its whole transcript.
    A declared size of 0 or 0xFFFFFFFF (streamed writers) is not checked.
    """
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return
        size = Path(path).stat().st_size
        block_align = rate = 0
        while True:
            header = f.read(8)
            if len(header) < 8:
                return
            chunk, length = struct.unpack("<4sI", header)
            if chunk == b"fmt ":
                fmt = f.read(min(length, 16))
                rate, block_align = struct.unpack("<I", fmt[4:8])[0], struct.unpack("<H", fmt[12:14])[0]
                f.seek(length - len(fmt) + (length & 1), 1)
            elif chunk == b"data":
                held = size - f.tell()
                if length not in (0, 0xFFFFFFFF) and held < length and rate and block_align:
                    per_second = rate * block_align
                    raise AudioError(f"{path} is truncated: its header declares {length / per_second:.2f} s of "
                                     f"samples, the file holds {held / per_second:.2f} s")
                return
            else:
                f.seek(length + (length & 1), 1)


def decode(path: str, sample_rate: int) -> np.ndarray:
    """All of ``path`` as int16 mono samples at ``sample_rate``; ``AudioError`` if unreadable."""
    if Path(path).suffix.lower() == ".wav" and Path(path).is_file():
        _check_wav_complete(path)
    samples = _read_soundfile(path, sample_rate)
    if samples is not None:
        return samples
    samples = _ffmpeg_decode(path, sample_rate)
    indexed = _indexed_length(path)
    if indexed is not None:
        seconds, source_rate = indexed
        decoded = len(samples) / sample_rate
        if abs(decoded - seconds) > LENGTH_TOLERANCE_FRAMES * AAC_FRAME / source_rate:
            raise AudioError(f"{path} decoded to {decoded:.2f} s but its container indexes {seconds:.2f} s (damaged?)")
    return samples


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono wav (what ESPnet's ``sound`` reader and s2t.sh ``--audio_format wav`` use)."""
    soundfile.write(str(path), samples, sample_rate, subtype="PCM_16")
