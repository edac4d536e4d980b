"""Fault scenarios of the corpus readers and the audio stages (1, 3, 4)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import soundfile

from espnet_dynprune.corpora import filter_lengths as fl, format_audio as fa
from espnet_dynprune.corpora.europarl_st import read_split as read_europarl_split, segment_files
from espnet_dynprune.corpora.fleurs import read_split as read_fleurs_split, tsv_path
from espnet_dynprune.corpora.prepare import prepare
from espnet_dynprune.corpora.voxforge import read_language as read_voxforge_language
from espnet_dynprune.owsm.datadir import Segment, Utterance, read_map, write_datadir
from tests.builders.corpus_files import (
    make_europarl_split,
    make_fleurs_split,
    make_voxforge_session,
    needs_ffmpeg,
    overwrite_middle,
    stretch_sample_times,
    write_talk_m4a,
    write_tone,
)
from tests.faults.context import Ctx, assert_skipped, raises

# ==================================================================== corpora, stage 1


def missing_europarl_root(ctx: Ctx) -> None:
    nowhere = ctx.tmp / "nowhere"
    with raises(FileNotFoundError, f"Europarl-ST root '{nowhere}' is not a directory; set EUROPARL_ST in db.sh"):
        prepare(out_dir=ctx.tmp / "data", europarl_st=str(nowhere), europarl_st_langs="fr")


def missing_fleurs_root(ctx: Ctx) -> None:
    nowhere = ctx.tmp / "nowhere"
    with raises(FileNotFoundError, f"FLEURS root '{nowhere}' is not a directory; set FLEURS in db.sh"):
        prepare(out_dir=ctx.tmp / "data", fleurs=str(nowhere), fleurs_langs="hu")


def missing_voxforge_root(ctx: Ctx) -> None:
    nowhere = ctx.tmp / "nowhere"
    with raises(FileNotFoundError, f"VoxForge root '{nowhere}' is not a directory; set VOXFORGE in db.sh"):
        prepare(out_dir=ctx.tmp / "data", voxforge=str(nowhere))


def db_root_crlf(ctx: Ctx) -> None:
    root = ctx.tmp / "fleurs"
    for split, row in (("train", "7"), ("dev", "8"), ("test", "9")):
        make_fleurs_split(root, "hu_hu", split, [(row, f"{row}.wav", "Szia.")])
    # as bash reads a db.sh saved with CRLF line ends: the root ends in \r, an empty entry is "\r"
    written = prepare(out_dir=ctx.tmp / "data", fleurs=f"{root}\r", fleurs_langs="hu", voxforge="\r", tasks="asr")
    assert sorted(written) == ["dev", "test_fleurs_hun_asr", "train"], written
    assert "\r" not in (written["train"] / "wav.scp").read_text(encoding="utf-8")


GOOD_SEGMENT = ("fr.1", 0.2, 0.9, "bonjour", "hello")


def europarl_root(ctx: Ctx, *rows: Tuple[str, float, float, str, str]) -> Path:
    """``fr/en/train`` with a good first segment and ``rows``; audio only for recording ``fr.1``."""
    root = ctx.tmp / "v1.1"
    make_europarl_split(root, "fr", "train", [GOOD_SEGMENT, *rows], audios={"fr.1": 2.0})
    return root


@needs_ffmpeg
def europarl_audio_missing(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.2", 0.0, 1.0, "pas d'audio", "no audio"))
    utts = read_europarl_split(root, "fr", "train", ["asr"])
    assert [u.segment.rec_id for u in utts] == ["epst.fra.fr.1"]
    assert_skipped(ctx.caplog, 1, 2, "segments of fr/en/train", "audio file missing", f"{root}/fr/audios/fr.2.m4a)")


@needs_ffmpeg
def europarl_empty_transcript(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.1", 1.0, 1.8, "", "empty transcript"))
    assert len(read_europarl_split(root, "fr", "train", ["asr", "st_eng"])) == 2  # the good one, both tasks
    lst = segment_files(root, "fr", "train")[0]
    assert_skipped(ctx.caplog, 1, 2, "segments of fr/en/train", "empty transcript in segments.fr", f"{lst}:2)")


@needs_ffmpeg
def europarl_end_before_start(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.1", 1.8, 1.0, "à l'envers", "backwards"))
    assert len(read_europarl_split(root, "fr", "train", ["asr"])) == 1
    lst = segment_files(root, "fr", "train")[0]
    assert_skipped(ctx.caplog, 1, 2, "segments of fr/en/train", "end <= start", f"{lst}:2)")


@needs_ffmpeg
def europarl_misaligned(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.1", 1.0, 1.8, "merci", "thank you"))
    lst, fr, en = segment_files(root, "fr", "train")
    en.write_text("hello\n", encoding="utf-8")
    with raises(ValueError, f"{lst} has 2 lines, {fr} has 2 lines, {en} has 1 lines"):
        read_europarl_split(root, "fr", "train", ["asr"])


@needs_ffmpeg
def europarl_bad_segment_line(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.1", 1.0, 1.8, "merci", "thank you"))
    lst = segment_files(root, "fr", "train")[0]
    lst.write_text(lst.read_text().replace("1.00 1.80", "one 1.80"))
    with raises(ValueError, f"{lst}:2: expected '<audio_id> <start> <end>', got 'fr.1 one 1.80'"):
        read_europarl_split(root, "fr", "train", ["asr"])


@needs_ffmpeg
def europarl_not_utf8(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.1", 1.0, 1.8, "merci", "thank you"))
    fr = segment_files(root, "fr", "train")[1]
    fr.write_bytes("bonjour\nla commission europ\xe9enne\n".encode("latin-1"))
    with raises(ValueError, f"{fr}:2: not UTF-8 text", "europ"):
        read_europarl_split(root, "fr", "train", ["asr"])


def as_shipped_on_windows(path: Path) -> None:
    """Rewrite a text file as some corpora ship them: a UTF-8 byte-order mark, CRLF line ends and
    spaces at the ends of lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_bytes(("\ufeff" + "".join(f"{line}  \r\n" for line in lines)).encode("utf-8"))


@needs_ffmpeg
def europarl_bom_crlf(ctx: Ctx) -> None:
    root = europarl_root(ctx, ("fr.1", 1.0, 1.8, "merci", "thank you"))
    clean = read_europarl_split(root, "fr", "train", ["asr", "st_eng"])
    for path in segment_files(root, "fr", "train"):
        as_shipped_on_windows(path)
    assert read_europarl_split(root, "fr", "train", ["asr", "st_eng"]) == clean


def fleurs_bom_crlf(ctx: Ctx) -> None:
    root = ctx.tmp / "fleurs"
    make_fleurs_split(root, "hu_hu", "train", [("7", "1.wav", "Szia."), ("8", "2.wav", "Jó napot.")])
    clean = read_fleurs_split(root, "hu", "train", ["asr"])
    as_shipped_on_windows(tsv_path(root, "hu_hu", "train"))
    assert read_fleurs_split(root, "hu", "train", ["asr"]) == clean


def voxforge_bom_crlf(ctx: Ctx) -> None:
    session = make_voxforge_session(ctx.tmp, "bg", "ivan-20100101-abc", {"b1": "добър ден", "b2": "лека нощ"})
    clean = read_voxforge_language(ctx.tmp, "bg")
    as_shipped_on_windows(session / "etc" / "prompts-original")
    assert read_voxforge_language(ctx.tmp, "bg") == clean


def datadir_bom_crlf(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/a.wav", 1.0)
    in_dir = write_datadir(ctx.tmp / "data/test", [asr_utt("a", "0", wav)])
    clean = {name: read_map(in_dir / name) for name in ("text", "wav.scp", "utt2spk")}
    for name in clean:
        as_shipped_on_windows(in_dir / name)
    assert {name: read_map(in_dir / name) for name in clean} == clean
    assert list(clean["text"]) == ["a-0_asr"] and not clean["text"]["a-0_asr"].endswith(" ")


def fleurs_bad_columns(ctx: Ctx) -> None:
    root = ctx.tmp / "fleurs"
    make_fleurs_split(root, "hu_hu", "train", [("7", "1.wav", "Szia.")])
    tsv = tsv_path(root, "hu_hu", "train")
    tsv.write_text(tsv.read_text(encoding="utf-8") + "8\t2.wav\tHello\thello\n", encoding="utf-8")
    with raises(ValueError, f"{tsv}:2: expected 7 tab-separated columns (id, file_name,", "got 4"):
        read_fleurs_split(root, "hu", "train", ["asr"])


def fleurs_empty_transcription(ctx: Ctx) -> None:
    root = ctx.tmp / "fleurs"
    make_fleurs_split(root, "hu_hu", "train", [("7", "1.wav", "Szia."), ("8", "2.wav", "")])
    assert [u.utt_id for u in read_fleurs_split(root, "hu", "train", ["asr"])] == ["fleurs.hun.1-7_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"rows of {tsv_path(root, 'hu_hu', 'train')}", "empty transcription", "id 8)")


def voxforge_not_utf8(ctx: Ctx) -> None:
    session = make_voxforge_session(ctx.tmp, "bg", "ivan-20100101-abc", {"b1": "добър ден"})
    prompts = session / "etc" / "prompts-original"
    prompts.write_bytes("b1 caf\xe9\n".encode("latin-1"))
    with raises(ValueError, f"{prompts}:1: not UTF-8 text"):
        read_voxforge_language(ctx.tmp, "bg")


# ==================================================================== audio, stage 3 and 4


def asr_utt(rec: str, part: str, wav: Path, span: Optional[Tuple[float, float]] = None) -> Utterance:
    """A French ASR utterance of recording ``rec``: all of ``wav``, or ``span`` seconds of it."""
    segment = Segment(rec, *span) if span else None
    return Utterance(f"{rec}-{part}_asr", str(wav), rec, "fra", "asr", "bonjour", "bonjour", segment=segment)


def stage3(ctx: Ctx, *utts: Utterance, out: str = "dump/raw/test", **limits: float) -> Tuple[Path, Path]:
    """Stage 1's data dir of ``utts`` plus a good 1 s utterance (stage 3 fails when none is left),
    then stage 3 into ``out``: (data dir, dump dir)."""
    good = asr_utt("good", "0", write_tone(ctx.tmp / "audio/good.wav", 1.0))
    in_dir = write_datadir(ctx.tmp / "data" / Path(out).name, [good, *utts])
    return in_dir, fa.format_audio(in_dir, ctx.tmp / out, nj=1, **limits)


def dumped(dump_dir: Path) -> List[str]:
    """The utterances a dump dir kept (its ``wav.scp`` keys, sorted)."""
    return sorted(read_map(dump_dir / "wav.scp"))


@needs_ffmpeg
def stage3_audio_gone(ctx: Ctx) -> None:
    wav = ctx.tmp / "audio/gone.wav"  # named by stage 1's wav.scp, gone since
    in_dir, out = stage3(ctx, asr_utt("gone", "0", wav))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "unreadable audio", f"ffmpeg could not decode {wav}: ")


@needs_ffmpeg
def stage3_zero_bytes(ctx: Ctx) -> None:
    wav = ctx.tmp / "audio/zero.wav"
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"")
    in_dir, out = stage3(ctx, asr_utt("zero", "0", wav))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "unreadable audio", f"ffmpeg could not decode {wav}: ")


def stage3_no_samples(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/empty.wav", 0.0)
    in_dir, out = stage3(ctx, asr_utt("empty", "0", wav))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "empty audio", f"{wav})")


@needs_ffmpeg
def stage3_truncated_m4a(ctx: Ctx) -> None:
    m4a = write_talk_m4a(ctx.tmp / "audio/cut.m4a", 4.0)
    m4a.write_bytes(m4a.read_bytes()[: m4a.stat().st_size // 2])
    in_dir, out = stage3(ctx, asr_utt("cut", "0", m4a, (0.5, 1.5)))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "unreadable audio", f"ffmpeg could not decode {m4a}: ")


def stage3_truncated_wav(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/cut.wav", 2.0)
    wav.write_bytes(wav.read_bytes()[: wav.stat().st_size // 2])
    in_dir, out = stage3(ctx, asr_utt("cut", "0", wav))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "unreadable audio")


def _talk_utts(talk: Path) -> List[Utterance]:
    """Three 2 s segments of a 25 s talk: before, in and after its middle."""
    return [asr_utt("talk", str(i), talk, (start, start + 2.0)) for i, start in enumerate((1.0, 12.0, 22.0))]


@needs_ffmpeg
def stage3_damaged_m4a(ctx: Ctx) -> None:
    talk = overwrite_middle(write_talk_m4a(ctx.tmp / "audio/talk.m4a", 25.0), 40_000)
    in_dir, out = stage3(ctx, *_talk_utts(talk))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 3, 4, f"utterances of {in_dir}", "unreadable audio", f"ffmpeg could not decode {talk}: ")


@needs_ffmpeg
def stage3_shortened_m4a(ctx: Ctx) -> None:
    talk = stretch_sample_times(write_talk_m4a(ctx.tmp / "audio/talk.m4a", 25.0))
    in_dir, out = stage3(ctx, *_talk_utts(talk))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 3, 4, f"utterances of {in_dir}", "unreadable audio", f"{talk} decoded to 4.")
    assert "s but its container indexes 25.00 s (damaged?))" in ctx.caplog.text


def stage3_past_the_end(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/rec.wav", 2.0)
    in_dir, out = stage3(ctx, asr_utt("rec", "a", wav, (1.5, 2.04)), asr_utt("rec", "b", wav, (1.5, 2.2)))
    assert dumped(out) == ["good-0_asr", "rec-a_asr"]  # 0.04 s over: trimmed
    assert int(read_map(out / "utt2num_samples")["rec-a_asr"]) == 8000
    assert_skipped(ctx.caplog, 1, 3, f"utterances of {in_dir}", "past the end of the audio (2.00 s)",
                   f"rec-b_asr ({wav} 1.5-2.2))")


def stage3_too_short(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/blip.wav", 0.05)
    in_dir, out = stage3(ctx, asr_utt("blip", "0", wav))
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "shorter than min_duration=0.1 s", "blip-0_asr (")


def stage3_longer_than_30s(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/long.wav", 30.5)
    in_dir, out = stage3(ctx, asr_utt("long", "0", wav))  # run.sh's test-set limits: the defaults
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {in_dir}", "longer than max_duration=30.0 s",
                   f"long-0_asr ({wav} ")


def stage4_longer_than_30s(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/long.wav", 30.5)
    _, org = stage3(ctx, asr_utt("long", "0", wav), out="dump/raw/org/train", min_duration=0.0,
                    max_duration=float("inf"))  # as run.sh formats train and dev
    assert dumped(org) == ["good-0_asr", "long-0_asr"]
    out = fl.filter_lengths(org, ctx.tmp / "dump/raw/train")
    assert dumped(out) == ["good-0_asr"]
    assert_skipped(ctx.caplog, 1, 2, f"utterances of {org}", "longer than max_duration=30.0 s", "long-0_asr (30.50 s))")


def stage3_audio_replaced(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/a.wav", 1.0)
    in_dir = write_datadir(ctx.tmp / "data/test", [asr_utt("a", "0", wav)])
    out = fa.format_audio(in_dir, ctx.tmp / "dump/raw/test", nj=1)
    fa.format_audio(in_dir, out, nj=1)
    assert f"{out} is done already ({out / '.done'}); skipping" in ctx.caplog.text
    new = np.full(16000, 1000, dtype=np.int16)  # same size, other samples: only the mtime tells
    soundfile.write(str(wav), new, 16000, subtype="PCM_16")
    os.utime(wav, ns=(wav.stat().st_atime_ns, wav.stat().st_mtime_ns + 1_000_000_000))
    fa.format_audio(in_dir, out, nj=1)
    assert f"{out} was made from other inputs (changed: audio_sha1); redoing it" in ctx.caplog.text
    np.testing.assert_array_equal(soundfile.read(read_map(out / "wav.scp")["a-0_asr"], dtype="int16")[0], new)


def stage3_pipe_in_wav_scp(ctx: Ctx) -> None:
    in_dir = ctx.tmp / "data"
    in_dir.mkdir()
    (in_dir / "wav.scp").write_text("u1 sox a.wav -t wav - |\n", encoding="utf-8")
    with raises(ValueError, f"{in_dir / 'wav.scp'}: entry 'u1' is 'sox a.wav -t wav - |'; only plain file paths"):
        fa.format_audio(in_dir, ctx.tmp / "dump")


def stage3_unknown_recording(ctx: Ctx) -> None:
    in_dir = ctx.tmp / "data"
    in_dir.mkdir()
    (in_dir / "wav.scp").write_text("rec a.wav\n", encoding="utf-8")
    (in_dir / "segments").write_text("u1 other 0.0 1.0\n", encoding="utf-8")
    with raises(ValueError, f"{in_dir / 'segments'}: utterance 'u1' names recording 'other', not in wav.scp"):
        fa.format_audio(in_dir, ctx.tmp / "dump")


def stage3_text_not_utf8(ctx: Ctx) -> None:
    wav = write_tone(ctx.tmp / "audio/a.wav", 1.0)
    in_dir = write_datadir(ctx.tmp / "data/test", [asr_utt("a", "0", wav)])
    (in_dir / "text").write_bytes("a-0_asr <fra><asr><notimestamps> caf\xe9\n".encode("latin-1"))
    with raises(ValueError, f"{in_dir / 'text'}:1: not UTF-8 text"):
        fa.format_audio(in_dir, ctx.tmp / "dump/raw/test", nj=1)


