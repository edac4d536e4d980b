"""Decode any corpus audio (m4a, mp3, flac, wav) to 16-bit mono PCM at one sample rate.

Europarl-ST ships AAC in m4a, which libsndfile cannot read, so decoding goes through an
``ffmpeg`` subprocess (``-ac 1 -ar RATE -f s16le``). WAV/FLAC files already at the target rate
(FLEURS, most of VoxForge) are read with soundfile instead: same samples, no process start.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np
import soundfile

_SOUNDFILE_SUFFIXES = (".wav", ".flac")


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


def decode(path: str, sample_rate: int) -> np.ndarray:
    """All of ``path`` as int16 mono samples at ``sample_rate``; ``AudioError`` if unreadable."""
    samples = _read_soundfile(path, sample_rate)
    if samples is not None:
        return samples
    if shutil.which("ffmpeg") is None:
        raise RuntimeError(f"ffmpeg not found on PATH; it is needed to decode {path}")
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", str(sample_rate), "-f", "s16le", "-"],
        capture_output=True,
    )
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = message[-1] if message else f"exit status {proc.returncode}"
        raise AudioError(f"ffmpeg could not decode {path}: {reason}")
    return np.frombuffer(proc.stdout, dtype="<i2").astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono wav (what ESPnet's ``sound`` reader and s2t.sh ``--audio_format wav`` use)."""
    soundfile.write(str(path), samples, sample_rate, subtype="PCM_16")
