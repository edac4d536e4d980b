"""Synthesise sentences with the ``espeak-ng`` command into 16 kHz mono 16-bit WAV files.

Why the post-processing: espeak-ng writes 22.05 kHz audio whose pauses are exact digital zeros.
Together with the zero padding of ESPnet's S2TPreprocessor that drove the log-mel statistics to
mean -14 / std 8-10 in a mini-scale training probe; a low white-noise floor (-55 dBFS) over the
whole file, plus a short padded lead-in and tail, keeps the features and the global MVN sane.
The noise is seeded per file, so a corpus is bit-identical across runs.

A "speaker" is an espeak voice variant (``fr+m3``), a speed (words per minute) and a pitch (0-99);
the voice of each language comes from :mod:`espnet_dynprune.corpora.languages`.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from espnet_dynprune.corpora.languages import espeak_voice

#: Built-in espeak-ng variants that sound clearly different and stay intelligible.
VARIANTS: Tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
SAMPLE_RATE = 16000

_INSTALL_HINT = "install it with `apt-get install espeak-ng` (or `make sysdeps`)"


class EspeakError(RuntimeError):
    """espeak-ng is missing or failed on an input."""


@dataclass(frozen=True)
class Speaker:
    """An espeak-ng voice configuration used as one speaker of the corpus (``lang``: ISO 639-3)."""

    lang: str
    variant: str = "m1"
    speed: int = 160
    pitch: int = 50

    def __post_init__(self) -> None:
        try:
            espeak_voice(self.lang)
        except ValueError as exc:
            raise ValueError(f"Speaker.lang: {exc}") from None
        if not 80 <= self.speed <= 450:
            raise ValueError(f"Speaker.speed={self.speed} words/min is outside espeak's 80..450")
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"Speaker.pitch={self.pitch} is outside espeak's 0..99")

    @property
    def voice(self) -> str:
        """The ``-v`` argument, e.g. ``fr+m3``."""
        return f"{espeak_voice(self.lang)}+{self.variant}"

    @property
    def speaker_id(self) -> str:
        """Kaldi speaker id, e.g. ``fra-m3-s160-p45`` (no whitespace, fixed field layout)."""
        return f"{self.lang}-{self.variant}-s{self.speed:03d}-p{self.pitch:02d}"


def speaker_pool(
    lang: str,
    n: int,
    *,
    seed: int = 0,
    speed_range: Tuple[int, int] = (140, 190),
    pitch_range: Tuple[int, int] = (30, 70),
) -> List[Speaker]:
    """``n`` distinct speakers for ``lang``: distinct variants first, random speed and pitch."""
    if n < 1:
        raise ValueError(f"n={n} speakers requested for lang={lang!r}; need at least 1")
    rng = random.Random(f"speakers-{lang}-{seed}")
    variants = list(VARIANTS)
    rng.shuffle(variants)
    pool: List[Speaker] = []
    seen = set()
    while len(pool) < n:
        spk = Speaker(
            lang=lang,
            variant=variants[len(pool) % len(variants)],
            speed=rng.randint(*speed_range),
            pitch=rng.randint(*pitch_range),
        )
        if spk.speaker_id not in seen:
            seen.add(spk.speaker_id)
            pool.append(spk)
    return pool


def espeak_binary() -> str:
    """Path of ``espeak-ng``; raises :class:`EspeakError` with the install hint when absent."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakError(f"`espeak-ng` was not found on PATH; {_INSTALL_HINT}")
    return path


def _read_wav_bytes(data: bytes, what: str) -> Tuple[np.ndarray, int]:
    import soundfile  # espnet dependency; imported lazily so the module imports without it

    try:
        audio, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except RuntimeError as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise EspeakError(f"espeak-ng produced unreadable audio for {what}: {exc}") from exc
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return audio, int(rate)


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return audio
    from scipy.signal import resample_poly  # espnet dependency

    g = gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def synthesize(
    text: str,
    speaker: Speaker,
    out_path: Union[str, Path],
    *,
    noise_dbfs: float = -55.0,
    pad_s: Tuple[float, float] = (0.15, 0.25),
    seed: int = 0,
    timeout_s: float = 60.0,
) -> float:
    """Write ``text`` spoken by ``speaker`` to ``out_path`` (16 kHz, mono, PCM_16); return seconds.

    ``pad_s`` is (lead-in, tail) silence in seconds; ``noise_dbfs`` is the RMS level of the
    white noise added everywhere (-120 makes it inaudible and numerically negligible). The
    noise seed mixes ``seed`` with the output file name, so each file has its own noise.
    """
    import soundfile

    if not text.strip():
        raise ValueError(f"empty text for {out_path}")
    cmd = [espeak_binary(), "-v", speaker.voice, "-s", str(speaker.speed), "-p", str(speaker.pitch), "--stdout"]
    try:
        # The text goes through stdin so that it is never parsed as an option.
        proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise EspeakError(f"espeak-ng timed out after {timeout_s}s on {text!r} ({out_path})") from exc
    if proc.returncode != 0 or not proc.stdout:
        raise EspeakError(
            f"`{' '.join(cmd)}` failed (rc={proc.returncode}) on {text!r} for {out_path}: "
            f"{proc.stderr.decode('utf-8', 'replace').strip()}"
        )
    audio, rate = _read_wav_bytes(proc.stdout, f"{text!r} ({out_path})")
    audio = _resample(audio, rate, SAMPLE_RATE)
    lead, tail = (int(round(p * SAMPLE_RATE)) for p in pad_s)
    audio = np.concatenate([np.zeros(lead, np.float32), audio, np.zeros(tail, np.float32)])
    out_path = Path(out_path)
    audio = audio + _noise(audio.shape[0], noise_dbfs, seed, out_path.name, stream=0)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:  # keep headroom instead of clipping in the int16 conversion
        audio = audio * (0.99 / peak)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(out_path), audio, SAMPLE_RATE, subtype="PCM_16")
    return audio.shape[0] / SAMPLE_RATE


@dataclass(frozen=True)
class SynthesisJob:
    """One file to synthesise (see :func:`synthesize_many`)."""

    text: str
    speaker: Speaker
    out_path: Path


def synthesize_many(
    jobs: Sequence[SynthesisJob],
    *,
    num_workers: int = 4,
    seed: int = 0,
    noise_dbfs: float = -55.0,
    pad_s: Tuple[float, float] = (0.15, 0.25),
) -> List[float]:
    """Synthesise all jobs with a small thread pool; return durations in job order.

    Threads suffice: the work happens in the espeak-ng subprocesses. Output does not depend on
    ``num_workers`` (each file's noise is seeded by its name).
    """
    espeak_binary()  # fail once, early, with the install hint
    if num_workers < 1:
        raise ValueError(f"num_workers={num_workers} must be >= 1")

    def run(job: SynthesisJob) -> float:
        return synthesize(job.text, job.speaker, job.out_path, noise_dbfs=noise_dbfs, pad_s=pad_s, seed=seed)

    if num_workers == 1:
        return [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=num_workers) as pool:
        return list(pool.map(run, jobs))


def _noise(n: int, noise_dbfs: float, seed: int, name: str, stream: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8")), stream])
    return rng.standard_normal(n).astype(np.float32) * np.float32(10.0 ** (noise_dbfs / 20.0))


def pad_with_noise(path: Union[str, Path], seconds: float, *, noise_dbfs: float = -55.0, seed: int = 0) -> float:
    """Extend the WAV at ``path`` in place to ``seconds`` with noise floor; return its duration.

    Why: S2TPreprocessor and Speech2Text zero-pad every input to ``speech_length``; exact zeros
    give log-mel values near log(1e-10) = -23 while the -55 dBFS floor sits near -11, so a
    corpus whose files already have ``speech_length`` seconds keeps that digital silence out
    of the features and of the global-MVN statistics. Longer files are left unchanged.
    """
    import soundfile

    path = Path(path)
    audio = read_wav(path)
    missing = int(round(seconds * SAMPLE_RATE)) - audio.shape[0]
    if missing > 0:
        audio = np.concatenate([audio, _noise(missing, noise_dbfs, seed, path.name, stream=1)])
        soundfile.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return audio.shape[0] / SAMPLE_RATE


def read_wav(path: Union[str, Path], *, expect_rate: Optional[int] = SAMPLE_RATE) -> np.ndarray:
    """Read a mono WAV as float32 in [-1, 1]; check the sample rate (``None`` skips the check)."""
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    if expect_rate is not None and rate != expect_rate:
        raise ValueError(f"{path} has sample rate {rate}, expected {expect_rate}")
    return audio
