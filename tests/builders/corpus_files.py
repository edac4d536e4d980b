"""Tiny corpora in the real layouts, built in code (tones, an ffmpeg-made m4a).

The Europarl-ST and FLEURS text files come from the package's own writers; the audio here is a
plain tone (the m4a at 44.1 kHz, as Europarl-ST ships it, so reading must resample).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import soundfile

from espnet_dynprune.corpora import voxforge
from espnet_dynprune.corpora.europarl_st import EuroparlSegment, audio_path, encode_m4a, write_split
from espnet_dynprune.corpora.fleurs import FleursRow, chars, wav_path, write_tsv
from espnet_dynprune.owsm.datadir import Segment, Utterance, write_datadir

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not on PATH")
needs_espeak_and_ffmpeg = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="espeak-ng and ffmpeg are needed (apt-get install espeak-ng ffmpeg)",
)
#: A mini corpus small enough to generate in seconds (Europarl-ST and FLEURS sentences per split).
TINY_SPLITS = dict(train=6, dev=2, test=2, fleurs_train=4, fleurs_dev=2, fleurs_test=2)
#: The VoxForge add-on's speakers per language, sessions per speaker and prompts per session.
VOXFORGE_SIZES = dict(speakers=3, sessions=2, prompts=2)


def write_tone(path: Path, seconds: float, sample_rate: int = 16000, channels: int = 1) -> Path:
    """A quiet 440 Hz tone (never digital silence, so nothing reads as empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    tone = 0.1 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(str(path), np.stack([tone] * channels, axis=1), sample_rate, subtype="PCM_16")
    return path


def write_m4a(path: Path, seconds: float, sample_rate: int = 44100) -> Path:
    """AAC in m4a, as Europarl-ST ships it."""
    wav = write_tone(path.with_suffix(".src.wav"), seconds, sample_rate)
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(wav), "-c:a", "aac", str(path)], check=True)
    wav.unlink()
    return path


def write_talk_m4a(path: Path, seconds: float, sample_rate: int = 44100) -> Path:
    """An m4a from the recipe's own encoder; tone plus noise, so AAC frames vary in size as in speech."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    noise = np.random.default_rng(0).standard_normal(len(t))
    encode_m4a(0.1 * np.sin(2 * np.pi * 440 * t) + 0.02 * noise, path, sample_rate=sample_rate)
    return path


def overwrite_middle(path: Path, n_bytes: int) -> Path:
    """Overwrite ``n_bytes`` in the middle of ``path`` with random bytes (a bad disk or copy)."""
    data = bytearray(path.read_bytes())
    start = (len(data) - n_bytes) // 2
    data[start : start + n_bytes] = np.random.default_rng(1).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def stretch_sample_times(path: Path, factor: int = 5) -> Path:
    """Multiply the first sample duration in an m4a's ``stts`` table by ``factor``: ffmpeg then
    decodes about 1/``factor`` of the audio without logging an error."""
    data = bytearray(path.read_bytes())
    stts = data.index(b"stts", data.rindex(b"moov"))  # the moov box follows the audio data
    delta = int.from_bytes(data[stts + 16 : stts + 20], "big")
    data[stts + 16 : stts + 20] = (delta * factor).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def make_europarl_split(
    root: Path, src: str, split: str, rows: Sequence[Tuple[str, float, float, str, str]], audios: Dict[str, float]
) -> None:
    """``{src}/en/{split}/segments.*`` from ``(audio_id, start, end, transcript, translation)``
    rows and ``{src}/audios/{id}.m4a`` of the given lengths (made once)."""
    write_split(root, src, split, [EuroparlSegment(*row) for row in rows])
    for audio_id, seconds in audios.items():
        path = audio_path(root, src, audio_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_m4a(path, seconds)


def fleurs_row(row_id: str, file_name: str, raw: str, samples: int = 16000) -> FleursRow:
    """A row whose normalised transcription is ``raw`` lower-cased without commas and periods."""
    norm = raw.lower().replace(",", "").replace(".", "")
    return FleursRow(row_id, file_name, raw, norm, chars(norm), samples, "FEMALE")


def make_fleurs_split(
    root: Path, lang_dir: str, split: str, rows: List[Tuple[str, str, str]], audio: bool = True
) -> None:
    """``{lang_dir}/{split}.tsv`` from ``(id, file_name, raw_transcription)`` and 1 s wavs."""
    write_tsv(root, lang_dir, split, [fleurs_row(*r) for r in rows])
    if audio:
        for _, file_name, _ in rows:
            write_tone(wav_path(root, lang_dir, split, file_name), 1.0)


def make_voxforge_session(
    root: Path, lang: str, session: str, prompts: Dict[str, str], style: str = "original"
) -> Path:
    """``{lang}/extracted/{session}`` with ``etc/prompts-original`` (or ``PROMPTS``) and wavs."""
    d = voxforge.session_dir(root, lang, session)
    if style == "original":
        voxforge.write_prompts(d, prompts)
    else:
        (d / "etc").mkdir(parents=True, exist_ok=True)
        lines = "".join(f"{session}/mfc/{k} {v.upper()}\n" for k, v in prompts.items())
        (d / "etc" / "PROMPTS").write_text(lines, encoding="utf-8")
    for file_id in prompts:
        write_tone(voxforge.wav_path(d, file_id), 0.5, sample_rate=48000)
    return d


def make_asterisk(root: Path, texts: Dict[str, Sequence[Tuple[str, str]]], voices: Dict[str, str],
                  no_audio: Sequence[str] = ()) -> Path:
    """An Asterisk prompt tree as Debian installs it: ``texts`` (lang -> (key, text) lines) as the
    transcript files, an 8 kHz tone per key of each voice (``voices``: voice dir -> lang) except
    the keys in ``no_audio``."""
    from espnet_dynprune.corpora.asterisk import wav_path, write_transcripts

    for lang, lines in texts.items():
        write_transcripts(root, lang, lines)
    for voice, lang in voices.items():
        for key, _ in texts[lang]:
            if key not in no_audio:
                write_tone(wav_path(root, voice, key), 0.5, sample_rate=8000)
    return root


def make_voxforge_corpus(root: Path) -> Path:
    """A FLEURS-only mini corpus (Bulgarian) and its VoxForge add-on in French and Italian at
    :data:`VOXFORGE_SIZES`, under ``root``."""
    from espnet_dynprune.data import mini_corpus, synthetic_voxforge

    mini_corpus.generate_mini_corpus(root, num_workers=2, europarl_langs=[], fleurs_langs=["bg"], fleurs_train=4,
                                     fleurs_dev=2, fleurs_test=2)
    synthetic_voxforge.generate_voxforge(root, ["fr", "it"], num_workers=2, **VOXFORGE_SIZES)
    return root


def french_utterance(spk: str, rest: str, task: str, wav: Path, seg: Optional[Segment] = None) -> Utterance:
    """``{spk}-{rest}_{task}``: French "bonjour", translated "hello" for ``st_eng``."""
    target = "hello" if task == "st_eng" else "bonjour"
    return Utterance(f"{spk}-{rest}_{task}", str(wav), spk, "fra", task, "bonjour", target, segment=seg)


def write_format_audio_cases(tmp_path: Path) -> Path:
    """A data dir of 8 utterances for stage 3: 4 to keep (ASR and ST sharing a cut, a trimmed
    overshoot, a resampled stereo file) and 4 to skip (past the end, too short, unreadable audio)."""
    long = write_tone(tmp_path / "audio/long.wav", 2.0)
    stereo8k = write_tone(tmp_path / "audio/stereo8k.wav", 1.0, sample_rate=8000, channels=2)
    broken = tmp_path / "audio/broken.wav"
    broken.write_bytes(b"not audio at all")
    seg = lambda s, e: Segment("r.long", s, e)  # noqa: E731
    utts = [
        french_utterance("r.long", "a", "asr", long, seg(0.5, 1.5)),
        french_utterance("r.long", "a", "st_eng", long, seg(0.5, 1.5)),
        french_utterance("r.long", "b", "asr", long, seg(1.5, 2.04)),  # overshoots by 0.04 s: trimmed
        french_utterance("r.long", "c", "asr", long, seg(1.5, 2.2)),  # past the end
        french_utterance("r.long", "d", "asr", long, seg(0.0, 0.05)),  # too short
        french_utterance("r.stereo", "w", "asr", stereo8k),  # whole file, resampled and mixed down
        french_utterance("r.broken", "x", "asr", broken, Segment("r.broken", 0.0, 1.0)),
        french_utterance("r.broken", "x", "st_eng", broken, Segment("r.broken", 0.0, 1.0)),
    ]
    return write_datadir(tmp_path / "data/train", utts)
