"""The mini corpus's VoxForge add-on: other espeak voices reading training sentences, in VoxForge's layout.

Why this shape: the paper's "more data" table adds VoxForge's read speech (ASR only) to the
Europarl-ST fine-tuning. Here its sentences are drawn from the mini corpus's *train* pool, so no dev
or test sentence of Europarl-ST or FLEURS becomes a training target, and its speakers talk at speeds
and pitches outside those of the corpus's own speakers, so no voice is shared. As in the real corpus,
named users record sessions of ten prompts and there is no official split: the reader
(:mod:`espnet_dynprune.corpora.voxforge`) holds out whole speakers for dev and test, so those test
sets are new voices reading training sentences (a test of voices, not of sentences).

    CORPUS/voxforge/{lang}/extracted/{user}-{yyyymmdd}-{suffix}/etc/prompts-original
    CORPUS/voxforge/{lang}/extracted/{user}-{yyyymmdd}-{suffix}/wav/{suffix}-{nn}.wav
    CORPUS/voxforge/manifest.json   arguments, the corpus's own arguments, counts; written last

A run whose arguments and corpus match the manifest returns at once; anything else regenerates it.

Usage::

    python -m espnet_dynprune.recipe.synthetic_voxforge --corpus downloads/mini --langs fr,de,it
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import soundfile

from espnet_dynprune.corpora import voxforge
from espnet_dynprune.corpora.languages import check_langs, to_iso639_3
from espnet_dynprune.data.espeak import (
    SAMPLE_RATE,
    Speaker,
    SynthesisJob,
    pad_with_noise,
    speaker_pool,
    synthesize_many,
)
from espnet_dynprune.data.mini_corpus import (
    FLEURS_SOURCES,
    GENERATOR,
    NOISE_DBFS,
    FramePool,
    draw_frames,
    split_pools,
    write_manifest,
)
from espnet_dynprune.data.sentences import render

SUBDIR = "voxforge"
FORMAT_VERSION = 2
#: The corpus's own speakers use espeak.speaker_pool's default ranges, speed 140-190 and pitch 30-70;
#: these lie outside both, so every VoxForge voice is new. Faster, not slower: at 100-135 words per
#: minute the longest sentences outgrew the stand-in's 6 s window (stage 10 refuses those).
SPEED_RANGE = (195, 240)
PITCH_RANGE = (75, 95)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Session:
    """One recording session: a user reading prompts (``file_id -> text``)."""

    lang: str
    name: str
    speaker: Speaker
    prompts: Dict[str, str]


def corpus_arguments(corpus: Path) -> Dict[str, Any]:
    """The finished mini corpus's arguments (its ``manifest.json``); a clear error otherwise."""
    path = corpus / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: generate the mini corpus first (python -m {GENERATOR})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("generator") != GENERATOR or not manifest.get("complete"):
        raise ValueError(f"{path} is not a finished corpus of {GENERATOR}")
    return manifest["arguments"]


def plan_sessions(lang: str, speakers: int, sessions: int, prompts: int, pool: FramePool, *,
                  seed: int) -> List[Session]:
    """``speakers x sessions`` sessions of ``prompts`` distinct sentences of ``pool`` each."""
    iso = to_iso639_3(lang)
    voices = speaker_pool(iso, speakers, seed=seed, speed_range=SPEED_RANGE, pitch_range=PITCH_RANGE)
    frames = iter(draw_frames(pool, speakers * sessions * prompts, key=f"voxforge-{lang}-{seed}"))
    rng = random.Random(f"voxforge-sessions-{lang}-{seed}")
    out: List[Session] = []
    for voice in voices:
        user = voice.speaker_id.replace("-", "")  # the reader takes the user name up to the first "-"
        for day in sorted(rng.sample(range(6 * 365), sessions)):  # VoxForge's early years, 2007-2012
            suffix = "".join(rng.choices(string.ascii_lowercase, k=3))
            date = (datetime.date(2007, 1, 1) + datetime.timedelta(days=day)).strftime("%Y%m%d")
            texts = {f"{suffix}-{k:02d}": render(next(frames), iso) for k in range(1, prompts + 1)}
            out.append(Session(lang, f"{user}-{date}-{suffix}", voice, texts))
    return out


def _prepare_out(out: Path, arguments: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The finished manifest when it matches ``arguments``; else ``out`` is cleared."""
    path = out / "manifest.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("complete") and old.get("arguments") == arguments:
            return old
        logger.info("%s: arguments or corpus differ from %s (or it is unfinished); regenerating", out, path)
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} holds files but no manifest.json; refusing to overwrite them")
    shutil.rmtree(out, ignore_errors=True)
    return None


def generate_voxforge(
    corpus: Path,
    langs: Sequence[str] = ("fr", "de", "it"),
    *,
    speakers: int = 10,
    sessions: int = 2,
    prompts: int = 10,
    num_workers: int = 4,
) -> Dict[str, Any]:
    """Write ``corpus/voxforge`` (see the module docstring) and return its manifest."""
    if not check_langs(langs, "langs", FLEURS_SOURCES):
        raise ValueError("langs is empty: nothing to generate")
    for name, value in (("speakers", speakers), ("sessions", sessions), ("prompts", prompts)):
        if value < 1:
            raise ValueError(f"{name}={value} must be >= 1")
    source = corpus_arguments(corpus)
    arguments = {"format": FORMAT_VERSION, "langs": list(langs), "speakers": speakers, "sessions": sessions,
                 "prompts": prompts, "speed_range": list(SPEED_RANGE), "pitch_range": list(PITCH_RANGE),
                 "corpus": source}
    out = corpus / SUBDIR
    done = _prepare_out(out, arguments)
    if done is not None:
        logger.info("%s is up to date (manifest.json matches); nothing to do", out)
        return done
    train = split_pools(source)["train"]
    plan = [s for lang in langs for s in plan_sessions(lang, speakers, sessions, prompts, train, seed=source["seed"])]
    jobs: List[SynthesisJob] = []
    for session in plan:
        where = voxforge.session_dir(out, session.lang, session.name)
        voxforge.write_prompts(where, session.prompts)
        jobs += [SynthesisJob(text, session.speaker, voxforge.wav_path(where, k))
                 for k, text in session.prompts.items()]
    logger.info("synthesising %d VoxForge prompts with espeak-ng (%d workers)", len(jobs), num_workers)
    synthesize_many(jobs, num_workers=num_workers, seed=source["seed"], noise_dbfs=NOISE_DBFS)
    if source["segment_seconds"] > 0:
        for job in jobs:
            pad_with_noise(job.out_path, source["segment_seconds"], noise_dbfs=NOISE_DBFS, seed=source["seed"])
    seconds = iter(soundfile.info(str(job.out_path)).frames / SAMPLE_RATE for job in jobs)
    counts: Dict[str, Dict[str, float]] = {}
    for session in plan:
        entry = counts.setdefault(session.lang, {"sessions": 0, "prompts": 0, "seconds": 0.0})
        entry["sessions"] += 1
        entry["prompts"] += len(session.prompts)
        entry["seconds"] = round(entry["seconds"] + sum(next(seconds) for _ in session.prompts), 2)
    manifest = {"generator": __name__, "complete": True, "arguments": arguments, "counts": counts}
    write_manifest(out, manifest)
    return manifest
