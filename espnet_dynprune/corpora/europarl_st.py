"""Read Europarl-ST v1.1 into OWSM utterances (ASR of the source, ST into English).

Layout under the root (the ``v1.1`` dir, db.sh ``EUROPARL_ST``)::

    {src}/audios/{audio_id}.m4a
    {src}/en/{train,dev,test}/segments.lst      "<audio_id> <start_s> <end_s>" per line
    {src}/en/{split}/segments.{src}             transcript, line-aligned with segments.lst
    {src}/en/{split}/segments.en                English translation, line-aligned

Each audio file is one speech by one Member of Parliament, and the corpus gives no speaker ids
that link speeches, so the speaker is the audio id (one speech per speaker). Segments stay
segments of the speech (Kaldi ``segments``); stage 2-4 cuts them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Union

from espnet_dynprune.corpora.checks import Skips, require_root
from espnet_dynprune.corpora.languages import to_iso639_3
from espnet_dynprune.corpora.naming import speaker_id, time_span, utt_id
from espnet_dynprune.data.owsm_datadir import Segment, Utterance

CORPUS = "epst"
DB_VAR = "EUROPARL_ST"
TARGET = "en"
SPLITS = ("train", "dev", "test")


def _read_lines(path: Path) -> List[str]:
    if not path.is_file():
        raise FileNotFoundError(f"Europarl-ST file {path} not found")
    return path.read_text(encoding="utf-8").splitlines()


def read_split(root: Path, src: str, split: str, tasks: Sequence[str]) -> List[Utterance]:
    """Utterances of one ``{src}/en/{split}`` dir, for each OWSM task in ``tasks``.

    Line counts of the three files must agree (else ``ValueError`` naming them); segments with an
    empty transcript, ``end <= start`` or a missing audio file are skipped (counted and logged),
    as are ST examples with an empty translation and repeated segments.
    """
    if src == TARGET:
        raise ValueError(f"Europarl-ST source language {src!r} is the target language {TARGET!r}")
    lang = to_iso639_3(src)
    pair_dir = root / src / TARGET / split
    files = [pair_dir / "segments.lst", pair_dir / f"segments.{src}", pair_dir / f"segments.{TARGET}"]
    segs, sources, targets = (_read_lines(f) for f in files)
    if not len(segs) == len(sources) == len(targets):
        counts = ", ".join(f"{f} has {n} lines" for f, n in zip(files, map(len, (segs, sources, targets))))
        raise ValueError(f"Europarl-ST files are not line-aligned: {counts}")

    skips = Skips(f"segments of {src}/{TARGET}/{split}")
    audio_exists: Dict[str, bool] = {}
    seen = set()
    utts: List[Utterance] = []
    for lineno, (seg, source, target) in enumerate(zip(segs, sources, targets), 1):
        where = f"{files[0]}:{lineno}"
        fields = seg.split()
        try:
            audio_id, start, end = fields[0], float(fields[1]), float(fields[2])
            if len(fields) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(f"{where}: expected '<audio_id> <start> <end>', got {seg!r}") from None
        source, target = " ".join(source.split()), " ".join(target.split())
        audio = root / src / "audios" / f"{audio_id}.m4a"
        if audio_id not in audio_exists:
            audio_exists[audio_id] = audio.is_file()
        if end <= start:
            skips.add("end <= start", where)
        elif not audio_exists[audio_id]:
            skips.add("audio file missing", str(audio))
        elif not source:
            skips.add(f"empty transcript in {files[1].name}", where)
        elif (audio_id, time_span(start, end)) in seen:
            skips.add("repeats an earlier segment", where)
        else:
            seen.add((audio_id, time_span(start, end)))
            utts.extend(_utterances(lang, audio_id, str(audio), start, end, source, target, tasks, skips, where))
    skips.log(total=len(segs))
    return utts


def _utterances(
    lang: str,
    audio_id: str,
    wav: str,
    start: float,
    end: float,
    source: str,
    translation: str,
    tasks: Sequence[str],
    skips: Skips,
    where: str,
) -> List[Utterance]:
    speaker = speaker_id(CORPUS, lang, audio_id)
    out = []
    for task in tasks:
        target = source if task == "asr" else translation
        if not target:
            skips.add(f"empty translation ({task} example dropped)", where)
            continue
        out.append(
            Utterance(
                utt_id=utt_id(speaker, time_span(start, end), task),
                wav=wav,
                speaker=speaker,
                lang=lang,
                task=task,
                source_text=source,
                target_text=target,
                duration=end - start,
                segment=Segment(speaker, start, end),
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
