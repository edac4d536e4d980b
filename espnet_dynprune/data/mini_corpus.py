"""Generate a small multilingual speech corpus in the exact layouts of Europarl-ST v1.1 and FLEURS.

Why: the recipe's default run has no real corpus, yet must exercise the very data preparation that
reads the real ones. Speech comes from espeak-ng, text from the closed templated lexicon of
:mod:`sentences` (~40 word types per language, small enough for a model trained from scratch).

    DIR/europarl_st/v1.1/...   source fr/de/it -> en talks (see :mod:`espnet_dynprune.corpora.europarl_st`)
    DIR/fleurs/...             hu_hu, bg_bg and en_us, n-way parallel (see :mod:`espnet_dynprune.corpora.fleurs`)
    DIR/README.txt             what this is, the command, the counts
    DIR/manifest.json          arguments and counts; written last, so it marks a finished corpus

Europarl-ST talks come from :mod:`synthetic_talks`, FLEURS recordings from :mod:`synthetic_fleurs`.

Sentences are disjoint between splits *across all languages and both corpora*: the frame space
is cut once into train/dev/test pools, so no test sentence is a training target in any language.
A run whose arguments match ``manifest.json`` returns at once; other arguments regenerate.

Usage::

    python -m espnet_dynprune.recipe.mini_corpus --out DIR --europarl_langs fr,de,it --fleurs_langs hu,bg
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from espnet_dynprune.corpora import europarl_st as ep, fleurs as fl
from espnet_dynprune.corpora.languages import LANGUAGES, check_langs, fleurs_dir, to_iso639_3
from espnet_dynprune.data import synthetic_fleurs, synthetic_talks
from espnet_dynprune.data.espeak import SynthesisJob, espeak_binary, pad_with_noise, speaker_pool, synthesize_many
from espnet_dynprune.data.sentences import (
    LANGUAGES as LEXICON_SOURCES,
    OBJECTS,
    SUBJECTS,
    TIMES,
    VERBS,
    Frame,
    make_pair,
    render,
)

SPLITS = ("train", "dev", "test")
FORMAT_VERSION = 2
P_TIME = 0.5  # share of sentences with a time phrase
NOISE_DBFS = -55.0
#: Every recording is padded with the noise floor to this length, just under the stand-in's
#: speech_length of 6 s (segment times are rounded to 10 ms): S2TPreprocessor zero-pads shorter
#: inputs, and exact zeros (log-mel -23 vs -11 for the floor) otherwise make up ~half of all
#: frames and dominate the global-MVN statistics (as a mini-scale training probe found).
SEGMENT_SECONDS = 5.95
SPEAKERS_PER_LANG = 8
GENERATOR = "espnet_dynprune.data.mini_corpus"
EUROPARL_SUBDIR = Path("europarl_st", "v1.1")
FLEURS_SUBDIR = Path("fleurs")
_WORK_PREFIX = ".mini_corpus-"
#: Europarl-ST source languages with a lexicon column (English is the target, never a source).
EUROPARL_SOURCES = tuple(lang.code for lang in LANGUAGES if lang.europarl_st and lang.iso639_3 in LEXICON_SOURCES)
#: FLEURS languages with a lexicon column; en_us, the translation side, is always generated.
FLEURS_SOURCES = tuple(lang.code for lang in LANGUAGES if lang.iso639_3 in LEXICON_SOURCES)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MiniCorpus:
    """A generated (or reused, ``reused=True``) corpus and its manifest."""

    root: Path
    manifest: Dict[str, Any]
    reused: bool

    @property
    def europarl_root(self) -> Path:
        return self.root / EUROPARL_SUBDIR

    @property
    def fleurs_root(self) -> Path:
        return self.root / FLEURS_SUBDIR


@dataclass(frozen=True)
class FramePool:
    """Frames of one split, by whether they carry a time phrase."""

    timed: Tuple[Frame, ...]
    untimed: Tuple[Frame, ...]


def partition_frames(demand: Mapping[str, int], *, seed: int) -> Dict[str, FramePool]:
    """Cut all frames into disjoint per-split pools sized in proportion to ``demand``."""
    total = sum(demand.values())
    svo = list(itertools.product(range(len(SUBJECTS)), range(len(VERBS)), range(len(OBJECTS))))
    timed: List[Frame] = [(s, v, o, t) for s, v, o in svo for t in range(len(TIMES))]
    untimed: List[Frame] = [(s, v, o, None) for s, v, o in svo]
    rng = random.Random(f"mini-corpus-frames-{seed}")
    rng.shuffle(timed)
    rng.shuffle(untimed)

    def cut(frames: List[Frame]) -> Dict[str, Tuple[Frame, ...]]:
        out: Dict[str, Tuple[Frame, ...]] = {}
        start = acc = 0
        for split, need in demand.items():
            acc += need
            end = round(len(frames) * acc / total)
            out[split] = tuple(frames[start:end])
            start = end
        return out

    t, u = cut(timed), cut(untimed)
    return {split: FramePool(t[split], u[split]) for split in demand}


def split_pools(arguments: Mapping[str, Any]) -> Dict[str, FramePool]:
    """The corpus's train/dev/test pools from its manifest's ``arguments`` (add-ons draw from them too)."""
    europarl, fleurs = arguments["europarl_langs"], arguments["fleurs_langs"]
    demand = {s: max(arguments[s] if europarl else 0, arguments[f"fleurs_{s}"] if fleurs else 0) for s in SPLITS}
    return partition_frames(demand, seed=arguments["seed"])


def draw_frames(pool: FramePool, n: int, *, key: str) -> List[Frame]:
    """``n`` distinct frames of ``pool``, :data:`P_TIME` of them with a time phrase; seeded by ``key``."""
    rng = random.Random(key)
    n_timed = round(n * P_TIME)
    if n_timed > len(pool.timed) or n - n_timed > len(pool.untimed):
        raise ValueError(
            f"{key}: {n} sentences do not fit the split's pool of {len(pool.timed) + len(pool.untimed)} frames; "
            f"use fewer sentences"
        )
    frames = rng.sample(pool.timed, n_timed) + rng.sample(pool.untimed, n - n_timed)
    rng.shuffle(frames)
    return frames


def _check_sizes(sizes: Mapping[str, int], flags: str) -> None:
    for split, size in sizes.items():
        if size < 1:
            raise ValueError(f"{flags}: {split} size {size} must be >= 1 (an empty language list disables a corpus)")


def _prepare_out(root: Path, arguments: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Return the finished manifest when it matches ``arguments``; else clear our old output."""
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else None
    if old is not None and old.get("generator") != GENERATOR:
        raise FileExistsError(f"{manifest_path} was not written by {GENERATOR}; refusing to overwrite {root}")
    if old is not None and old.get("complete") and old.get("arguments") == arguments:
        return old
    ours = [root / EUROPARL_SUBDIR.parts[0], root / FLEURS_SUBDIR, root / "README.txt", *root.glob(f"{_WORK_PREFIX}*")]
    if old is None and any(p.exists() for p in ours):
        found = [p.name for p in ours if p.exists()]
        raise FileExistsError(f"{root} holds {found} but no manifest.json; refusing to overwrite them")
    if old is not None:
        logger.info("%s: arguments differ from %s (or it is unfinished); regenerating", root, manifest_path)
    for path in ours:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return None


def write_manifest(root: Path, manifest: Dict[str, Any]) -> None:
    """``root/manifest.json``, replaced in one step (an interrupted write leaves the old one)."""
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(root / "manifest.json")


@dataclass(frozen=True)
class _TalkPlan:
    """A Europarl-ST talk to build from its sentence WAVs (synthesised into the work dir)."""

    lang: str
    split: str
    talk: synthetic_talks.Talk
    wavs: Tuple[Path, ...]


def _plan_europarl(
    langs: Sequence[str], sizes: Mapping[str, int], pools: Mapping[str, FramePool], work: Path, seed: int
) -> List[_TalkPlan]:
    plans: List[_TalkPlan] = []
    for lang in langs:
        iso = to_iso639_3(lang)
        speakers = speaker_pool(iso, SPEAKERS_PER_LANG, seed=seed)
        ids = iter(synthetic_talks.audio_ids(lang, sum(sizes.values()), seed=seed))  # a talk has >= 1 sentence
        for split in SPLITS:
            frames = draw_frames(pools[split], sizes[split], key=f"europarl_st-{lang}-{split}-{seed}")
            pairs = [make_pair(f, iso) for f in frames]
            rng = random.Random(f"europarl_st-talks-{lang}-{split}-{seed}")
            for talk in synthetic_talks.plan_talks(pairs, speakers, list(itertools.islice(ids, len(pairs))), rng=rng):
                wavs = tuple(work / f"{talk.audio_id}_{k:02d}.wav" for k in range(len(talk.pairs)))
                plans.append(_TalkPlan(lang, split, talk, wavs))
    return plans


def _plan_fleurs(
    langs: Sequence[str], sizes: Mapping[str, int], pools: Mapping[str, FramePool], root: Path, seed: int
) -> List[synthetic_fleurs.Recording]:
    """One shared draw of sentences for all languages (n-way parallel), English included."""
    frames = {split: draw_frames(pools[split], sizes[split], key=f"fleurs-{split}-{seed}") for split in SPLITS}
    sentence_ids = synthetic_fleurs.sentence_ids(sum(sizes.values()), seed=seed)
    recordings: List[synthetic_fleurs.Recording] = []
    for lang in [*langs, "en"]:
        lang_dir, iso = fleurs_dir(lang), to_iso639_3(lang)
        speakers = speaker_pool(iso, SPEAKERS_PER_LANG, seed=seed)
        names = iter(synthetic_fleurs.file_names(lang_dir, len(sentence_ids), seed=seed))
        ids = iter(sentence_ids)
        rng = random.Random(f"fleurs-speakers-{lang_dir}-{seed}")
        for split in SPLITS:
            for frame in frames[split]:
                path = fl.wav_path(root, lang_dir, split, next(names))
                text, speaker = render(frame, iso), rng.choice(speakers)
                recordings.append(synthetic_fleurs.Recording(lang_dir, split, next(ids), text, path, speaker))
    return recordings


def _check_arguments(
    europarl_langs: Sequence[str], fleurs_langs: Sequence[str], ep_sizes: Mapping[str, int], fl_sizes: Mapping[str, int]
) -> None:
    check_langs(europarl_langs, "europarl_langs", EUROPARL_SOURCES)
    check_langs(fleurs_langs, "fleurs_langs", FLEURS_SOURCES)
    if not europarl_langs and not fleurs_langs:
        raise ValueError("both europarl_langs and fleurs_langs are empty: nothing to generate")
    if europarl_langs:
        _check_sizes(ep_sizes, "--train/--dev/--test")
    if fleurs_langs:
        _check_sizes(fl_sizes, "--fleurs_train/--fleurs_dev/--fleurs_test")


def generate_mini_corpus(
    out: Path,
    *,
    europarl_langs: Sequence[str] = ("fr", "de", "it"),
    fleurs_langs: Sequence[str] = ("hu", "bg"),
    train: int = 400,
    dev: int = 40,
    test: int = 60,
    fleurs_train: int = 200,
    fleurs_dev: int = 20,
    fleurs_test: int = 30,
    seed: int = 0,
    num_workers: int = 4,
    segment_seconds: float = SEGMENT_SECONDS,
) -> MiniCorpus:
    """Generate the corpus under ``out`` (see the module docstring); sizes are sentences per language.

    Each sentence recording (a Europarl-ST segment or a FLEURS file) is padded with the noise floor
    to ``segment_seconds`` (0: natural lengths); longer ones are kept whole.

    Deterministic in everything but ``num_workers`` (which only sets the thread count).
    """
    ep_sizes = {"train": train, "dev": dev, "test": test}
    fl_sizes = {"train": fleurs_train, "dev": fleurs_dev, "test": fleurs_test}
    _check_arguments(europarl_langs, fleurs_langs, ep_sizes, fl_sizes)
    if num_workers < 1:
        raise ValueError(f"num_workers={num_workers} must be >= 1")
    arguments: Dict[str, Any] = {
        "format": FORMAT_VERSION, "europarl_langs": list(europarl_langs), "fleurs_langs": list(fleurs_langs),
        **ep_sizes, **{f"fleurs_{k}": v for k, v in fl_sizes.items()}, "seed": seed,
        "segment_seconds": segment_seconds,
    }  # fmt: skip

    root = Path(out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    done = _prepare_out(root, arguments)
    if done is not None:
        logger.info("%s is up to date (manifest.json matches); nothing to do", root)
        return MiniCorpus(root, done, reused=True)
    espeak_binary()
    if europarl_langs:
        ep.ffmpeg_binary()
    write_manifest(root, {"generator": GENERATOR, "complete": False, "arguments": arguments})
    start = time.perf_counter()

    pools = split_pools(arguments)
    with tempfile.TemporaryDirectory(prefix=_WORK_PREFIX, dir=root) as work:
        talks = _plan_europarl(europarl_langs, ep_sizes, pools, Path(work), seed)
        recordings = _plan_fleurs(fleurs_langs, fl_sizes, pools, root / FLEURS_SUBDIR, seed) if fleurs_langs else []
        jobs = [
            SynthesisJob(pair.source, t.talk.speaker, wav)
            for t in talks
            for pair, wav in zip(t.talk.pairs, t.wavs, strict=True)
        ]
        jobs += [SynthesisJob(r.text, r.speaker, r.path) for r in recordings]
        logger.info("synthesising %d sentences with espeak-ng (%d workers)", len(jobs), num_workers)
        synthesize_many(jobs, num_workers=num_workers, seed=seed, noise_dbfs=NOISE_DBFS)
        if segment_seconds > 0:
            for job in jobs:
                pad_with_noise(job.out_path, segment_seconds, noise_dbfs=NOISE_DBFS, seed=seed)

        def build(t: _TalkPlan) -> List[Tuple[float, float]]:
            out_path = ep.audio_path(root / EUROPARL_SUBDIR, t.lang, t.talk.audio_id)
            return synthetic_talks.assemble_talk(t.talk, t.wavs, out_path, seed=seed, noise_dbfs=NOISE_DBFS)

        logger.info("encoding %d talks to m4a", len(talks))
        with ThreadPoolExecutor(max_workers=num_workers) as pool:
            times = list(pool.map(build, talks))

    entries = [(t.lang, t.split, t.talk, tt) for t, tt in zip(talks, times, strict=True)]
    counts = {
        "europarl_st": synthetic_talks.write_splits(root / EUROPARL_SUBDIR, entries),
        "fleurs": synthetic_fleurs.write_tsvs(root / FLEURS_SUBDIR, recordings),
    }
    total = sum(c["seconds"] for by_lang in counts.values() for by_split in by_lang.values() for c in by_split.values())
    manifest = {
        "generator": GENERATOR, "complete": True, "arguments": arguments, "counts": counts,
        "total_seconds": round(total, 2), "build_seconds": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    (root / "README.txt").write_text(_readme(manifest), encoding="utf-8")
    write_manifest(root, manifest)
    return MiniCorpus(root, manifest, reused=False)


def _readme(manifest: Mapping[str, Any]) -> str:
    args = manifest["arguments"]
    values = {k: (",".join(v) or "''") if isinstance(v, list) else v for k, v in args.items() if k != "format"}
    flags = " ".join(f"--{k} {v}" for k, v in values.items())
    lines = [
        "Synthetic mini corpus for espnet-dynprune (NOT real speech data).",
        "",
        "Templated parliament-style sentences (closed vocabulary, ~40 word types per language) spoken by",
        "espeak-ng voices, laid out exactly like the real corpora so the same readers work on both:",
        "  europarl_st/v1.1/{src}/audios/*.m4a, {src}/en/{split}/segments.{lst,src,en}  (Europarl-ST v1.1)",
        "  fleurs/{config}/{split}.tsv, fleurs/{config}/audio/{split}/*.wav            (FLEURS, n-way parallel)",
        "Sentences are disjoint between train, dev and test across all languages and both corpora.",
        "",
        f"Generated by: python -m {GENERATOR} --out DIR {flags}",
        "",
        "Counts (sentences; seconds of segment audio):",
    ]
    for corpus, by_lang in manifest["counts"].items():
        for lang, by_split in by_lang.items():
            parts = [f"{s} {c['sentences']} ({c['seconds']:.0f} s)" for s, c in by_split.items()]
            lines.append(f"  {corpus} {lang}: " + ", ".join(parts))
    lines += [f"Total: {manifest['total_seconds'] / 60:.1f} min of audio.", ""]
    return "\n".join(lines)
