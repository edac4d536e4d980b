"""Recipe stage 3: decode and cut the audio of one data dir into an ESPnet dump dir.

ESPnet's s2t.sh does this with Kaldi tools (format_wav_scp.sh); this module does the same in
Python so the recipe needs no Kaldi checkout. The recipe formats train/dev without a length
limit into ``dump/raw/org`` and drops lengths in stage 4 (:mod:`filter_lengths`), as s2t.sh
does; test sets, which stage 4 does not touch, get their limits here. For ``--in_dir``:

- each recording (wav.scp, via ``segments`` when present) is decoded once, at ``--sample_rate``
  and mono (:mod:`audio_io`), by ``--nj`` worker processes;
- each span is cut out and written as ``{out_dir}/data/{name}.wav`` (16-bit PCM); utterances of
  one span (the ASR and ST examples of one sentence) share the file, named after the first;
- dropped, counted and logged per reason: unreadable audio (also damaged audio that ffmpeg
  decodes only in part, see :mod:`audio_io`) or empty audio (all its utterances), a span
  past the end of the audio (an overshoot of up to 0.05 s is trimmed instead), spans longer than
  ``--max_duration`` (OWSM's 30 s input) or shorter than ``--min_duration``;
- the dump dir gets ``wav.scp`` (keyed by utterance), ``utt2num_samples``, the data dir's
  ``text``, ``text.prev``, ``text.ctc`` and ``utt2spk`` restricted to the kept utterances, a
  matching ``spk2utt``, and s2t.sh's ``feats_type`` (``raw``) and ``audio_format`` (``wav``).

A finished dump dir holds ``.done`` with the arguments it was made with, a hash of the data
dir's files and one of the size and mtime of each audio file they name (hashing the audio itself
would take as long as decoding it); a rerun with the same arguments and inputs returns at once,
any other redoes it and logs what changed.

Usage::

    python -m espnet_dynprune.recipe.format_audio --in_dir data/train --out_dir dump/raw/train --nj 4
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

from espnet_dynprune.corpora.audio_io import AudioError, decode, write_wav
from espnet_dynprune.corpora.checks import Skips
from espnet_dynprune.owsm.datadir import WHOLE_FILE_END, audio_sha1, files_sha1, read_map, read_segments, write_map

logger = logging.getLogger(__name__)

DONE_MARKER = ".done"
COPIED_FILES = ("text", "text.prev", "text.ctc", "utt2spk")
END_TOLERANCE = 0.05  # seconds a segment may overshoot the audio before it counts as past the end


@dataclass(frozen=True)
class Span:
    """One output wav: ``start``-``end`` seconds of a recording, and the utterances using it."""

    name: str
    start: float
    end: float
    utt_ids: Tuple[str, ...]


@dataclass(frozen=True)
class Recording:
    """One audio file to decode and the spans to cut from it."""

    path: str
    spans: Tuple[Span, ...]


def plan(in_dir: Path) -> List[Recording]:
    """Group the utterances of ``in_dir`` by audio file and span; errors name file and key."""
    wav_scp = read_map(in_dir / "wav.scp")
    for key, value in wav_scp.items():
        if value.rstrip().endswith("|") or " " in value.strip():
            raise ValueError(f"{in_dir / 'wav.scp'}: entry {key!r} is {value!r}; only plain file paths are supported")
    if (in_dir / "segments").exists():
        where: Dict[str, Tuple[str, float, float]] = {}
        for utt, seg in read_segments(in_dir / "segments").items():
            if seg.rec_id not in wav_scp:
                raise ValueError(
                    f"{in_dir / 'segments'}: utterance {utt!r} names recording {seg.rec_id!r}, not in wav.scp"
                )
            where[utt] = (wav_scp[seg.rec_id], seg.start, seg.end)
    else:
        where = {utt: (path, 0.0, WHOLE_FILE_END) for utt, path in wav_scp.items()}
    by_span: Dict[Tuple[str, float, float], List[str]] = defaultdict(list)
    for utt, key in where.items():
        if "/" in utt:
            raise ValueError(f"{in_dir}: utterance id {utt!r} contains '/', which cannot name a wav file")
        by_span[key].append(utt)
    by_path: Dict[str, List[Span]] = defaultdict(list)
    for (path, start, end), utts in sorted(by_span.items()):
        utts.sort()
        by_path[path].append(Span(utts[0], start, end, tuple(utts)))
    return [Recording(path, tuple(spans)) for path, spans in by_path.items()]


@dataclass
class Outcome:
    """What happened to one recording: kept ``(span, wav path, samples)`` and drops per reason."""

    kept: List[Tuple[Span, str, int]]
    dropped: List[Tuple[str, str, int]]  # (reason, example, number of utterances)


def _cut(
    recording: Recording, data_dir: str, sample_rate: int, min_duration: float, max_duration: float
) -> Outcome:
    """Decode one recording and write its spans (runs in a worker process)."""
    out = Outcome([], [])
    n_utts = sum(len(s.utt_ids) for s in recording.spans)
    try:
        audio = decode(recording.path, sample_rate)
    except AudioError as e:
        out.dropped.append(("unreadable audio", str(e), n_utts))
        return out
    if len(audio) == 0:
        out.dropped.append(("empty audio", recording.path, n_utts))
        return out
    total = len(audio)
    for span in recording.spans:
        start = round(span.start * sample_rate)
        end = total if span.end == WHOLE_FILE_END else round(span.end * sample_rate)
        reason = None
        if start >= total or end > total + round(END_TOLERANCE * sample_rate):
            reason = f"past the end of the audio ({total / sample_rate:.2f} s)"
        else:
            end = min(end, total)
            seconds = (end - start) / sample_rate
            if seconds > max_duration:
                reason = f"longer than max_duration={max_duration} s"
            elif seconds < min_duration:
                reason = f"shorter than min_duration={min_duration} s"
        if reason is not None:
            out.dropped.append((reason, f"{span.name} ({recording.path} {span.start}-{span.end})", len(span.utt_ids)))
            continue
        wav = f"{data_dir}/{span.name}.wav"
        write_wav(Path(wav), audio[start:end], sample_rate)
        out.kept.append((span, wav, end - start))
    return out


def _cut_star(job: Tuple[Recording, str, int, float, float]) -> Outcome:
    return _cut(*job)


def format_audio(
    in_dir: Union[str, Path],
    out_dir: Union[str, Path],
    nj: int = 2,
    sample_rate: int = 16000,
    max_duration: float = 30.0,
    min_duration: float = 0.1,
) -> Path:
    """Make the dump dir ``out_dir`` from the data dir ``in_dir`` (see module docstring)."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    args = {
        "in_dir": str(in_dir.absolute()),
        "sample_rate": sample_rate,
        "max_duration": max_duration,
        "min_duration": min_duration,
        "data_sha1": files_sha1(in_dir / name for name in ("wav.scp", "segments", *COPIED_FILES)),
        "audio_sha1": audio_sha1(in_dir),
    }
    marker = out_dir / DONE_MARKER
    if marker.exists():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if done == args:
            logger.info("%s is done already (%s); skipping", out_dir, marker)
            return out_dir
        changed = sorted(k for k in args.keys() | done.keys() if done.get(k) != args.get(k))
        logger.info("%s was made from other inputs (changed: %s); redoing it", out_dir, ", ".join(changed))
    if nj < 1 or not 0 <= min_duration < max_duration or sample_rate <= 0:
        raise ValueError(f"need nj >= 1, 0 <= min_duration < max_duration, sample_rate > 0; got {nj=}, {args}")
    marker.unlink(missing_ok=True)
    recordings = plan(in_dir)
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    jobs = [(r, str(out_dir / "data"), sample_rate, min_duration, max_duration) for r in recordings]
    if nj == 1:
        outcomes = list(map(_cut_star, jobs))
    else:
        with ProcessPoolExecutor(max_workers=nj) as pool:
            outcomes = list(pool.map(_cut_star, jobs, chunksize=max(1, len(jobs) // (nj * 8))))

    skips = Skips(f"utterances of {in_dir}")
    wav_scp: Dict[str, str] = {}
    num_samples: Dict[str, str] = {}
    for outcome in outcomes:
        for reason, example, count in outcome.dropped:
            skips.add(reason, example, count)
        for span, wav, samples in outcome.kept:
            for utt in span.utt_ids:
                wav_scp[utt], num_samples[utt] = wav, str(samples)
    total = len(wav_scp) + skips.count
    skips.log(total=total)
    if not wav_scp:
        raise ValueError(f"no utterance of {in_dir} survived formatting; see the skip counts above")
    write_dump(in_dir, out_dir, wav_scp, num_samples)
    marker.write_text(json.dumps(args), encoding="utf-8")
    logger.info("%s: %d of %d utterances from %d recordings", out_dir, len(wav_scp), total, len(recordings))
    return out_dir


def write_dump(in_dir: Path, out_dir: Path, wav_scp: Dict[str, str], num_samples: Dict[str, str]) -> None:
    """The dump dir's files for the utterances of ``wav_scp``; text files come from ``in_dir``."""
    write_map(out_dir / "wav.scp", wav_scp)
    write_map(out_dir / "utt2num_samples", num_samples)
    for name in COPIED_FILES:
        if (in_dir / name).exists():
            values = read_map(in_dir / name)
            missing = [u for u in wav_scp if u not in values]
            if missing:
                raise ValueError(f"{in_dir / name} has no line for utterance {missing[0]!r} ({len(missing)} missing)")
            write_map(out_dir / name, {u: values[u] for u in wav_scp})
    if (out_dir / "utt2spk").exists():
        spk2utt: Dict[str, List[str]] = defaultdict(list)
        for utt, spk in read_map(out_dir / "utt2spk").items():
            spk2utt[spk].append(utt)
        write_map(out_dir / "spk2utt", {s: " ".join(us) for s, us in spk2utt.items()})
    (out_dir / "feats_type").write_text("raw\n", encoding="utf-8")
    (out_dir / "audio_format").write_text("wav\n", encoding="utf-8")
