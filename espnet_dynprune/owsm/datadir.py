"""Write (and read back) an OWSM-format Kaldi data directory for ESPnet's ``s2t`` task.

Files, one ``utt_id value`` line each, sorted by utt_id in C-locale (byte) order as Kaldi tools
expect: ``wav.scp``, ``text`` (``<lang><task><notimestamps> target``, the decoder target, no
spaces between special tokens), ``text.prev`` (``<na>``: no previous-utterance context),
``text.ctc`` (source-language transcript for the CTC branch), ``utt2spk``, ``spk2utt``, and
``utt2dur`` when durations are known. This matches egs2/owsm_v3 data preparation, so s2t.sh
stage 10+ (``utt_extra_files="text.prev text.ctc"``) and espnet2.bin.s2t_train read it as is.

Several utterances may share one wav (ASR and ST of the same audio): wav.scp is keyed by
utt_id, so each gets its own line pointing at the same file.

Utterances cut from longer recordings carry a :class:`Segment`; a dir with any of them gets a
Kaldi ``segments`` file (``utt_id rec_id start end``) and a wav.scp keyed by recording id.
Utterances without one then cover their whole file (``utt_id utt_id 0.000 -1``: Kaldi's
extract-segments reads an end of -1 as "till the end of the file").

Reading back: :data:`read_map` (any Kaldi ``key value`` file), :func:`read_segments`,
:func:`max_duration`, and :func:`context_of` (the one language x task of a test set, from its
``text``: decoding and FLOPs counting need it as the decoder prompt).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from espnet_dynprune.owsm.symbols import NA, check_language, check_task, format_target, parse_target, symbol

DATADIR_FILES = ("wav.scp", "text", "text.prev", "text.ctc", "utt2spk", "spk2utt")
#: The UTF-8 byte-order mark some editors and exporters put at the start of a text file.
BOM = "\ufeff"
#: Kaldi's ``segments`` end time meaning "till the end of the recording".
WHOLE_FILE_END = -1.0


def read_map(path: Union[str, Path]) -> Dict[str, str]:
    """A Kaldi ``key value...`` file as an ordered dict, as ESPnet's ``read_2columns_text`` reads it.

    The value is the rest of the line, a key alone has "", a duplicate key raises. Files as real
    corpora ship them read the same as clean ones (a UTF-8 byte-order mark, CRLF line ends and
    whitespace around a line do not reach a key or a value, where ESPnet would keep the mark in
    the first key), and every error names file and line.
    """
    data: Dict[str, str] = {}
    for lineno, line in enumerate(read_lines(path), 1):
        parts = line.split(maxsplit=1)
        if not parts:
            raise ValueError(f"{path}: every line must be 'key value'; line {lineno} is blank")
        key = parts[0]
        if key in data:
            raise ValueError(f"{path}:{lineno}: key {key!r} is duplicated")
        data[key] = parts[1].rstrip() if len(parts) > 1 else ""
    return data


def read_lines(path: Union[str, Path]) -> List[str]:
    """The lines of a UTF-8 text file, split at ``\\n`` only (as Kaldi tools split them; a
    Unicode line separator inside a transcript stays in it), without a byte-order mark or the
    ``\\r`` of CRLF line ends; a byte that is not UTF-8 raises naming file and line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")  # no newline translation: \r is dropped below
    except UnicodeDecodeError as e:
        raise not_utf8(path, e) from e
    lines = text.removeprefix(BOM).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def not_utf8(path: Union[str, Path], error: UnicodeDecodeError) -> ValueError:
    """The error to raise for ``error`` in ``path``: the file, the line and its bad bytes.

    Python's own error gives a byte offset into some read buffer and no file name.
    """
    for lineno, line in enumerate(Path(path).read_bytes().split(b"\n"), 1):  # as read_lines counts lines
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad:
            snippet = line[max(0, bad.start - 10) : bad.end + 10]
            return ValueError(f"{path}:{lineno}: not UTF-8 text ({bad.reason} at byte {bad.start} of the line: "
                              f"{snippet!r}); convert the file, e.g. iconv -f latin1 -t utf-8")
    return ValueError(f"{path}: not UTF-8 text ({error})")


def files_sha1(paths: Iterable[Union[str, Path]]) -> str:
    """SHA-1 over the names and bytes of small files (an absent one counts as absent), so a
    result made from them can tell when they changed."""
    digest = hashlib.sha1()
    for path in map(Path, paths):
        digest.update(path.name.encode() + (path.read_bytes() if path.is_file() else b"<absent>"))
    return digest.hexdigest()


def stat_sha1(paths: Iterable[Union[str, Path]]) -> str:
    """SHA-1 over the path, size and mtime (ns) of each file: a change of large files (audio,
    models) in the time a stat takes, where hashing them would take as long as reading them."""
    digest = hashlib.sha1()
    for path in paths:
        try:
            stat = Path(path).stat()
            digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\t<missing>\n".encode())
    return digest.hexdigest()


def audio_sha1(data_dir: Union[str, Path]) -> str:
    """:func:`stat_sha1` of every audio file the data dir's ``wav.scp`` names."""
    wav_scp = Path(data_dir) / "wav.scp"
    return stat_sha1(sorted(set(read_map(wav_scp).values())) if wav_scp.exists() else [])


@dataclass(frozen=True)
class Segment:
    """Where an utterance lies in a longer recording: one Kaldi ``segments`` line (seconds)."""

    rec_id: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.rec_id or any(c.isspace() for c in self.rec_id):
            raise ValueError(f"Segment.rec_id={self.rec_id!r} must be non-empty without whitespace")
        if self.start < 0 or (self.end != WHOLE_FILE_END and self.end <= self.start):
            raise ValueError(
                f"Segment of {self.rec_id}: start={self.start} end={self.end} needs 0 <= start < end "
                f"(or end={WHOLE_FILE_END}: to the end of the recording)"
            )

    def to_line(self) -> str:
        """``rec_id start end`` as written after the utt_id in ``segments``."""
        end = "-1" if self.end == WHOLE_FILE_END else f"{self.end:.3f}"
        return f"{self.rec_id} {self.start:.3f} {end}"


@dataclass(frozen=True)
class Utterance:
    """One training example: audio, who spoke it, and what the model should output.

    ``lang`` is the spoken language (ISO-639-3, e.g. ``fra``); ``task`` is ``asr`` or ``st_xxx``
    (translate into xxx); ``target_text`` is the transcript for ``asr`` and the translation for
    ``st_xxx``; ``source_text`` is always the transcript (used for CTC). ``segment``: the part of
    the recording ``wav`` this utterance is (``None``: the whole file).
    """

    utt_id: str
    wav: str
    speaker: str
    lang: str
    task: str
    source_text: str
    target_text: str
    duration: Optional[float] = None
    segment: Optional[Segment] = None

    def __post_init__(self) -> None:
        for name in ("utt_id", "wav", "speaker"):
            value = getattr(self, name)
            if not value or any(c.isspace() for c in value):
                raise ValueError(f"Utterance.{name}={value!r} must be non-empty without whitespace")
        check_language(self.lang, f"Utterance {self.utt_id}: lang")
        check_task(self.task, f"Utterance {self.utt_id}: task")
        if self.task == "asr" and self.source_text != self.target_text:
            raise ValueError(f"Utterance {self.utt_id}: task=asr needs target_text == source_text")
        for name in ("source_text", "target_text"):
            value = getattr(self, name)
            if not value.strip() or "\n" in value or "\r" in value:
                raise ValueError(f"Utterance {self.utt_id}: {name}={value!r} must be one non-empty line")
        if not self.utt_id.startswith(self.speaker + "_") and not self.utt_id.startswith(self.speaker + "-"):
            # Kaldi convention: sorting by utt_id must also group by speaker.
            raise ValueError(
                f"Utterance utt_id={self.utt_id!r} must start with its speaker id {self.speaker!r} "
                f"followed by '_' or '-'"
            )

    @property
    def text(self) -> str:
        """The OWSM decoder target, e.g. ``<fra><st_eng><notimestamps> the council ...``."""
        return format_target(self.lang, self.task, self.target_text)


def _c_sorted(keys: Iterable[str]) -> List[str]:
    # Kaldi sorts with LC_ALL=C, i.e. by bytes; Python's str order is by code point, which
    # differs from UTF-8 byte order only for surrogates, so sort on the encoded bytes to be exact.
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def write_map(path: Path, mapping: Dict[str, str]) -> None:
    """Write a Kaldi ``key value`` file sorted by key in C-locale order."""
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for key in _c_sorted(mapping):
            f.write(f"{key} {mapping[key]}\n")


def write_datadir(out_dir: Union[str, Path], utterances: Iterable[Utterance]) -> Path:
    """Write the data dir for ``utterances`` into ``out_dir`` (created); return ``out_dir``.

    Raises ``ValueError`` on duplicate utt ids, on an empty list, or when utt_id order and
    speaker order disagree (which Kaldi's validate_data_dir.sh would reject).
    """
    out_dir = Path(out_dir)
    by_id: Dict[str, Utterance] = {}
    for utt in utterances:
        if utt.utt_id in by_id:
            raise ValueError(f"duplicate utt_id {utt.utt_id!r} for {out_dir}")
        by_id[utt.utt_id] = utt
    if not by_id:
        raise ValueError(f"no utterances to write to {out_dir}")

    ids = _c_sorted(by_id)
    by_spk_then_id = sorted(ids, key=lambda k: (by_id[k].speaker.encode("utf-8"), k.encode("utf-8")))
    if ids != by_spk_then_id:
        bad = next(a for a, b in zip(ids, by_spk_then_id) if a != b)
        raise ValueError(
            f"{out_dir}: sorting by utt_id and by speaker disagree near {bad!r}; a speaker id must "
            f"not be a prefix of another speaker id plus separator"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    if any(u.segment is not None for u in by_id.values()):
        _write_recordings(out_dir, by_id)
    else:
        (out_dir / "segments").unlink(missing_ok=True)  # a stale one would re-key wav.scp
        write_map(out_dir / "wav.scp", {k: u.wav for k, u in by_id.items()})
    write_map(out_dir / "text", {k: u.text for k, u in by_id.items()})
    write_map(out_dir / "text.prev", {k: NA for k in by_id})
    write_map(out_dir / "text.ctc", {k: u.source_text.strip() for k, u in by_id.items()})
    write_map(out_dir / "utt2spk", {k: u.speaker for k, u in by_id.items()})
    spk2utt: Dict[str, List[str]] = defaultdict(list)
    for k in ids:
        spk2utt[by_id[k].speaker].append(k)
    write_map(out_dir / "spk2utt", {s: " ".join(us) for s, us in spk2utt.items()})
    if all(u.duration is not None for u in by_id.values()):
        write_map(out_dir / "utt2dur", {k: f"{u.duration:.3f}" for k, u in by_id.items()})
    return out_dir


def _write_recordings(out_dir: Path, by_id: Dict[str, Utterance]) -> None:
    """``wav.scp`` keyed by recording and ``segments``; one recording id must name one file."""
    rec2wav: Dict[str, str] = {}
    segments: Dict[str, str] = {}
    for key, utt in by_id.items():
        seg = utt.segment or Segment(key, 0.0, WHOLE_FILE_END)
        if rec2wav.setdefault(seg.rec_id, utt.wav) != utt.wav:
            raise ValueError(
                f"{out_dir}: recording id {seg.rec_id!r} names two files, {rec2wav[seg.rec_id]!r} "
                f"and {utt.wav!r} (utterance {key!r})"
            )
        segments[key] = seg.to_line()
    write_map(out_dir / "wav.scp", rec2wav)
    write_map(out_dir / "segments", segments)


def read_segments(path: Union[str, Path]) -> Dict[str, Segment]:
    """Read a Kaldi ``segments`` file (``utt_id rec_id start end``); errors name file and utterance."""
    out: Dict[str, Segment] = {}
    for key, value in read_map(path).items():
        fields = value.split()
        try:
            if len(fields) != 3:
                raise ValueError(f"expected 'utt_id rec_id start end', got {key} {value!r}")
            out[key] = Segment(fields[0], float(fields[1]), float(fields[2]))
        except ValueError as e:
            raise ValueError(f"{path}: utterance {key!r}: {e}") from None
    return out


def max_duration(data_dir: Union[str, Path]) -> float:
    """Longest utterance in seconds, from ``utt2dur`` (or by reading the wavs if it is absent)."""
    data_dir = Path(data_dir)
    durs = data_dir / "utt2dur"
    if durs.exists():
        return max(float(v) for v in read_map(durs).values())
    import soundfile

    return max(soundfile.info(p).duration for p in set(read_map(data_dir / "wav.scp").values()))


def context_of(data_dir: Union[str, Path], lang_sym: Optional[str] = None,
               task_sym: Optional[str] = None) -> Tuple[str, str]:
    """A test set's ``<lang>``/``<task>`` symbols: given, read from its ``text``, and checked against it.

    A test set holds one language x task (the recipe decodes and scores it as one). Without a
    ``text``, both symbols must be given.
    """
    text_file = Path(data_dir) / "text"
    if not text_file.exists():
        if lang_sym is None or task_sym is None:
            raise ValueError(f"{text_file} is missing: give --lang_sym and --task_sym")
        return symbol(lang_sym), symbol(task_sym)
    found: Dict[Tuple[str, str], str] = {}
    for utt, line in read_map(text_file).items():
        target = parse_target(line, f"{text_file}: {utt}")
        found.setdefault((symbol(target.language), symbol(target.task)), utt)
    wanted = (symbol(lang_sym) if lang_sym else None, symbol(task_sym) if task_sym else None)
    matching = [c for c in found if all(w is None or w == g for w, g in zip(wanted, c))]
    if len(found) > 1 or not matching:
        raise ValueError(
            f"{text_file} must hold one language x task matching --lang_sym {lang_sym} --task_sym "
            f"{task_sym}; found {sorted(found)} (first utts: {sorted(found.values())[:3]})"
        )
    return matching[0]
