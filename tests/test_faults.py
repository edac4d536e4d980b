"""Every bad input and fault the project claims to handle, as one table a reviewer can read.

Why one table: the checks live in many modules (corpus readers, stage 3/4, model zoo, checkpoint
loader, Speech2Text, gate forcing, decoding), and the question "what happens when X is bad?"
should have one place to look. Each row of :func:`faults` names the input or fault, the stage or
API that meets it and the outcome, and its scenario makes that fault with the project's own
entry points on tiny data made in code, then asserts the outcome:

- an error: the exception type, and that the message names the file / key / value;
- a counted, logged skip: the ``skipped N of M <what>: <reason> (first: ...)`` line that
  :class:`espnet_dynprune.corpora.checks.Skips` logs;
- an exact resume or redo: what was skipped, and what was done again.

A row that needs more than a few seconds (a training run, run.sh itself) says so and names the
test that covers it (``covered_by``, checked to exist); a row whose outcome does not hold yet is
a strict xfail, so that fixing it turns the row red until the mark goes.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Tuple

import numpy as np
import pytest
import soundfile
import torch
import yaml

from espnet_dynprune.corpora import filter_lengths as fl
from espnet_dynprune.corpora import format_audio as fa
from espnet_dynprune.corpora.europarl_st import read_split as read_europarl_split
from espnet_dynprune.corpora.europarl_st import segment_files
from espnet_dynprune.corpora.fleurs import read_split as read_fleurs_split
from espnet_dynprune.corpora.fleurs import tsv_path
from espnet_dynprune.corpora.prepare import prepare
from espnet_dynprune.corpora.voxforge import read_language as read_voxforge_language
from espnet_dynprune.nets.checkpoint import CheckpointMismatchError, load_pretrained
from espnet_dynprune.owsm.datadir import Segment, Utterance, read_map, write_datadir
from espnet_dynprune.recipe import decode
from espnet_dynprune.zoo import model_zoo, token_list
from espnet_dynprune.zoo.check_lengths import check_lengths
from espnet_dynprune.zoo.finetune_config import finetune_config
from tests.corpora.fixtures import (
    make_europarl_split, make_fleurs_split, make_voxforge_session, needs_ffmpeg, overwrite_middle,
    stretch_sample_times, write_talk_m4a, write_tone,
)  # fmt: skip
from tests.nets.tiny_s2t import build_model
from tests.recipe.tiny_decoding import decode_argv, write_test_set, write_tiny_model
from tests.tiny_recipe import RECIPE

if TYPE_CHECKING:
    from espnet2.bin.s2t_inference import Speech2Text

RECIPE_TEST = "tests/egs2/test_europarl_st_recipe.py"


@dataclass(frozen=True)
class Fault:
    """One row: a bad input or fault, where it is met, what happens, and the scenario showing it."""

    id: str
    input: str
    stage: str
    outcome: str
    run: Callable[["Ctx"], None]
    covered_by: Optional[str] = None  # "tests/...::test_name": the slow part of the row runs there
    xfail: Optional[str] = None  # why the outcome does not hold yet
    note: str = ""  # what the row does not run, and why


def faults() -> List[Fault]:
    """The table (a function only so that it can sit above the scenarios it names)."""
    return [
        # ---------------------------------------------------------------- corpora, stage 1
        Fault("root-missing-europarl", run=missing_europarl_root,
              input="EUROPARL_ST in db.sh names no directory",
              stage="stage 1: corpora.prepare",
              outcome="FileNotFoundError naming the path and EUROPARL_ST"),
        Fault("root-missing-fleurs", run=missing_fleurs_root,
              input="FLEURS in db.sh names no directory",
              stage="stage 1: corpora.prepare (run.sh)",
              outcome="FileNotFoundError naming the path and FLEURS; run.sh stops with it",
              covered_by=f"{RECIPE_TEST}::test_missing_corpus_root_names_the_db_sh_variable"),
        Fault("root-missing-voxforge", run=missing_voxforge_root,
              input="VOXFORGE in db.sh names no directory",
              stage="stage 1: corpora.prepare",
              outcome="FileNotFoundError naming the path and VOXFORGE"),
        Fault("epst-audio-missing", run=europarl_audio_missing,
              input="Europarl-ST segment whose .m4a is missing",
              stage="stage 1: europarl_st.read_split",
              outcome="skipped and logged: 'audio file missing (first: <m4a>)'"),
        Fault("epst-empty-transcript", run=europarl_empty_transcript,
              input="Europarl-ST segment with an empty transcript",
              stage="stage 1: europarl_st.read_split",
              outcome="skipped and logged: 'empty transcript in segments.fr (first: segments.lst:<line>)'"),
        Fault("epst-end-before-start", run=europarl_end_before_start,
              input="Europarl-ST segment with end <= start",
              stage="stage 1: europarl_st.read_split",
              outcome="skipped and logged: 'end <= start (first: segments.lst:<line>)'"),
        Fault("epst-misaligned", run=europarl_misaligned,
              input="segments.lst, segments.fr, segments.en with different line counts",
              stage="stage 1: europarl_st.read_split",
              outcome="ValueError naming the three files and their line counts"),
        Fault("epst-bad-segment-line", run=europarl_bad_segment_line,
              input="segments.lst line that is not '<audio_id> <start> <end>'",
              stage="stage 1: europarl_st.read_split",
              outcome="ValueError naming file, line and the line's text"),
        Fault("epst-not-utf8", run=europarl_not_utf8,
              input="Latin-1 byte in segments.fr",
              stage="stage 1: europarl_st.read_split",
              outcome="ValueError naming file and line ('segments.fr:2: not UTF-8 text')"),
        Fault("fleurs-bad-columns", run=fleurs_bad_columns,
              input="FLEURS tsv line without 7 tab-separated columns",
              stage="stage 1: fleurs.read_split",
              outcome="ValueError naming file and line and the 7 columns"),
        Fault("fleurs-empty-transcription", run=fleurs_empty_transcription,
              input="FLEURS row with an empty transcription",
              stage="stage 1: fleurs.read_split",
              outcome="skipped and logged: 'empty transcription (first: id <id>)'"),
        Fault("voxforge-not-utf8", run=voxforge_not_utf8,
              input="Latin-1 byte in a VoxForge prompts-original",
              stage="stage 1: voxforge.read_language",
              outcome="ValueError naming file and line"),
        # ---------------------------------------------------------------- audio, stage 3 and 4
        Fault("audio-gone", run=stage3_audio_gone,
              input="audio file deleted after stage 1",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'unreadable audio (first: ffmpeg could not decode <file>: ...)'"),
        Fault("audio-zero-bytes", run=stage3_zero_bytes,
              input="zero-byte audio file",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'unreadable audio (first: ffmpeg could not decode <file>: ...)'"),
        Fault("audio-no-samples", run=stage3_no_samples,
              input="wav with a header and no samples",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'empty audio (first: <file>)'"),
        Fault("m4a-truncated", run=stage3_truncated_m4a,
              input="m4a cut short (an interrupted copy: no moov box)",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'unreadable audio (first: ffmpeg could not decode <file>: ...)'"),
        Fault("wav-truncated", run=stage3_truncated_wav,
              input="wav cut short (header: 2 s, file: 1 s), used whole",
              stage="stage 3: format_audio",
              outcome="skipped and logged as unreadable audio"),
        Fault("m4a-damaged-errors", run=stage3_damaged_m4a,
              input="m4a with 40 KB overwritten mid-file (ffmpeg logs errors, exits 0)",
              stage="stage 3: format_audio (audio_io.decode)",
              outcome="every segment of the talk skipped: 'unreadable audio (first: ffmpeg could not decode <file>: "
                      "...)'; none cut at shifted times"),
        Fault("m4a-damaged-short", run=stage3_shortened_m4a,
              input="m4a with a damaged timing table (ffmpeg decodes 5 of 25 s, no error)",
              stage="stage 3: format_audio (audio_io.decode)",
              outcome="every segment skipped: 'unreadable audio (first: <file> decoded to 4.xx s but its container "
                      "indexes 25.00 s (damaged?))'"),
        Fault("segment-past-end", run=stage3_past_the_end,
              input="segment ending 0.2 s after its 2 s recording",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'past the end of the audio (2.00 s) (first: <utt> (<file> 1.5-2.2))'; an "
                      "overshoot up to 0.05 s is trimmed instead"),
        Fault("segment-too-short", run=stage3_too_short,
              input="0.05 s utterance in a test set",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'shorter than min_duration=0.1 s'"),
        Fault("test-longer-30s", run=stage3_longer_than_30s,
              input="30.5 s utterance in a test set",
              stage="stage 3: format_audio (test sets)",
              outcome="skipped and logged: 'longer than max_duration=30.0 s (first: <utt> (<file> ...))'"),
        Fault("train-longer-30s", run=stage4_longer_than_30s,
              input="30.5 s utterance in train",
              stage="stage 4: filter_lengths",
              outcome="kept by stage 3 (no limits for train/dev), then skipped and logged by stage 4: 'longer than "
                      "max_duration=30.0 s (first: <utt> (30.50 s))'"),
        Fault("audio-replaced", run=stage3_audio_replaced,
              input="source audio replaced after stage 3 ran (same size, new mtime)",
              stage="stage 3: format_audio (.done)",
              outcome="rerun with the same inputs returns at once; after the replacement that dump dir is redone "
                      "('changed: audio_sha1; redoing it') with the new samples"),
        Fault("wav-scp-pipe", run=stage3_pipe_in_wav_scp,
              input="wav.scp entry that is a command ('sox ... |')",
              stage="stage 3: format_audio",
              outcome="ValueError naming wav.scp and the key"),
        Fault("segments-unknown-rec", run=stage3_unknown_recording,
              input="segments line naming a recording not in wav.scp",
              stage="stage 3: format_audio",
              outcome="ValueError naming segments, the utterance and the recording"),
        Fault("text-not-utf8", run=stage3_text_not_utf8,
              input="Latin-1 byte in a data dir's text",
              stage="stage 3: format_audio",
              outcome="ValueError naming file and line ('text:1: not UTF-8 text')"),
        # ---------------------------------------------------------------- configs and models
        Fault("finetune-typo-key", run=finetune_typo,
              input="fine-tuning YAML with 'max_epochs' (typo)",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the YAML and the key; no config written"),
        Fault("finetune-bad-prune", run=finetune_bad_prune,
              input="fine-tuning YAML with 'prune: all'",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the YAML, the value and the valid ones"),
        Fault("finetune-fixed-key", run=finetune_fixed_key,
              input="fine-tuning YAML setting 'encoder:'",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the YAML and the key (it must come from the pretrained model)"),
        Fault("finetune-bad-prune-conf", run=finetune_bad_prune_conf,
              input="fine-tuning YAML with an unknown prune_conf key",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the key and the valid ones"),
        Fault("zoo-missing-files", run=zoo_missing_files,
              input="model-zoo dir without bpe.model and feats_stats.npz",
              stage="stages 5, 10, 11: zoo.ModelZooDir.load",
              outcome="ModelZooError listing every missing file and where it looked"),
        Fault("zoo-no-meta", run=zoo_without_meta,
              input="model-zoo dir without meta.yaml",
              stage="stages 5, 10, 11: zoo.ModelZooDir.load",
              outcome="ModelZooError naming meta.yaml"),
        Fault("checkpoint-renamed-key", run=checkpoint_renamed_key,
              input="checkpoint with one key renamed",
              stage="nets.checkpoint.load_pretrained",
              outcome="CheckpointMismatchError (a KeyError) naming the file and the key, paired with the one it "
                      "renames"),
        Fault("checkpoint-truncated", run=checkpoint_truncated,
              input="truncated .pth (an interrupted download)",
              stage="nets.checkpoint.load_pretrained",
              outcome="ValueError naming the file"),
        Fault("s2t-checkpoint-truncated", run=speech2text_truncated_model,
              input="truncated .pth given to Speech2Text",
              stage="Speech2Text(...)",
              outcome="ValueError naming the file, before the model is built"),
        Fault("utt-longer-than-model", run=longer_than_speech_length,
              input="utterance longer than the model's speech_length",
              stage="stage 10: zoo.check_lengths",
              outcome="ValueError naming the dump dir, the utterance, its length and the limit"),
        Fault("data-symbol-no-token", run=symbol_not_a_token,
              input="training text with <hun>, a model without that token",
              stage="stage 5: zoo.token_list --check_text",
              outcome="ValueError naming the text file, the symbol and its first utt"),
        Fault("check-text-not-utf8", run=check_text_not_utf8,
              input="Latin-1 byte in the text given to --check_text",
              stage="stage 5: zoo.token_list --check_text",
              outcome="ValueError naming file and line"),
        Fault("s2t-unknown-lang", run=speech2text_unknown_language,
              input="lang_sym the model has no token for ('<jpn>')",
              stage="Speech2Text.__call__",
              outcome="ValueError naming the symbol and the model's languages"),
        Fault("s2t-unknown-task", run=speech2text_unknown_task,
              input="task_sym the model has no token for ('<st_jpn>')",
              stage="Speech2Text(...)",
              outcome="ValueError naming the symbol and the model's tasks"),
        # ---------------------------------------------------------------- inference input
        Fault("wave-empty", run=waveform_empty,
              input="empty waveform",
              stage="Speech2Text.__call__",
              outcome="ValueError: '0 samples (0.000 s at 16000 Hz), shorter than 0.1 s'"),
        Fault("wave-0.05s", run=waveform_too_short,
              input="0.05 s waveform",
              stage="Speech2Text.__call__",
              outcome="ValueError: '800 samples (0.050 s at 16000 Hz), shorter than 0.1 s'"),
        Fault("wave-nan-inf", run=waveform_not_finite,
              input="NaN and inf samples",
              stage="Speech2Text.__call__",
              outcome="ValueError naming how many and the first one's index"),
        Fault("wave-int16-as-float", run=waveform_int16_values_as_float,
              input="int16 sample values in a float array",
              stage="Speech2Text.__call__",
              outcome="ValueError: 'int16 values given as floats? Divide them by 32768'"),
        Fault("wave-int16", run=waveform_int16_converted,
              input="int16 PCM array",
              stage="Speech2Text.__call__",
              outcome="converted (/32768): the same hypothesis as the float array"),
        Fault("wave-stereo", run=waveform_stereo,
              input="stereo (samples, 2) array",
              stage="Speech2Text.__call__",
              outcome="ValueError naming the shape: give one channel"),
        Fault("wave-longer-than-window", run=waveform_longer_than_window,
              input="3 s waveform, a 2 s input window",
              stage="Speech2Text.__call__",
              outcome="decoded, with a warning naming the window and the 1.00 s it drops"),
        # ---------------------------------------------------------------- gates
        Fault("gates-mask-one-part", run=force_mask_for_one_part,
              input="force_gates mask that fits the decoder's 6 gates, not the encoder's 8 (and the other way round)",
              stage="DynPruneS2TModel.force_gates",
              outcome="ValueError naming the part, its gate count and the mask's shape; neither part forced"),
        Fault("gates-batch-mask", run=force_batch_mask_other_size,
              input="(B, G) mask with B = 3 for a batch of 1",
              stage="DynPruneS2TModel.encode",
              outcome="ValueError naming both sizes; suggests a (G,) mask"),
        Fault("gates-bad-spec", run=decode_bad_gates,
              input="--gates 1.5 (or 'half')",
              stage="stage 12: recipe.decode",
              outcome="ValueError naming the value"),
        # ---------------------------------------------------------------- resumption
        Fault("decode-killed", run=decode_killed_and_resumed,
              input="decoding killed in shard 2 of 2 (shard 1 done)",
              stage="stage 12: recipe.decode",
              outcome="rerun skips shard 1 (files untouched), decodes shard 2 anew; merge equals a single run"),
        Fault("decode-merge-early", run=decode_merge_too_early,
              input="--merge true while a shard is not done",
              stage="stage 12: recipe.decode",
              outcome="FileNotFoundError naming the shard dirs not done"),
        Fault("decode-model-replaced", run=decode_model_replaced,
              input="model file replaced at the same path after decoding",
              stage="stage 12: recipe.decode (done file)",
              outcome="every shard decoded again ('changed: model; decoding it again')"),
        Fault("decode-other-settings", run=decode_other_settings,
              input="shard decoded with beam 2, rerun into the same dir with beam 3",
              stage="stage 12: recipe.decode",
              outcome="ValueError naming the done file and {'beam_size': (2, 3)}; nothing decoded"),
        Fault("finetune-killed", run=finetune_resumes,
              input="fine-tuning killed mid-run",
              stage="stage 11: run.sh -> espnet2.bin.s2t_train",
              outcome="run.sh passes ESPnet's --resume true with a fixed --output_dir: s2t_train restarts from "
                      "its checkpoint.pth (the last finished epoch)",
              note="checked: the flags in run.sh stage 11; not run: killing and resuming s2t_train needs a "
                   "training run (~30 s on 2 cores; the session's trained_dynprune fixture does not resume), "
                   "and the resume itself is ESPnet's"),
        Fault("lookup-failed", run=stage11_lookup_fails,
              input="model-zoo dir missing bpe.model at stage 11",
              stage="stage 11: zoo.model_zoo --print (run.sh)",
              outcome="ModelZooError naming bpe.model; run.sh stops before training (no train.log)",
              covered_by=f"{RECIPE_TEST}::test_pretrain_standin_then_stages_1_to_13"),
    ]  # fmt: skip


# ==================================================================== what scenarios get


@dataclass
class Ctx:
    """What a scenario gets: a fresh dir, the log, monkeypatch, and the shared tiny models."""

    tmp: Path
    caplog: pytest.LogCaptureFixture
    monkeypatch: pytest.MonkeyPatch
    request: pytest.FixtureRequest

    @property
    def model_files(self) -> Tuple[Path, Path]:
        """(config.yaml, model.pth) of a tiny random dynprune model (made once per module)."""
        return self.request.getfixturevalue("tiny_model")

    @property
    def s2t(self) -> "Speech2Text":
        """ESPnet's Speech2Text on :attr:`model_files` (loaded once per module)."""
        return self.request.getfixturevalue("speech2text")

    @property
    def packed(self) -> Path:
        """A packed model-zoo dir (shared: do not change it)."""
        return self.request.getfixturevalue("packed")

    def zoo_copy(self) -> Path:
        """A copy of :attr:`packed` to damage."""
        return self.request.getfixturevalue("zoo_copy")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """A tiny random dynprune model (2 s speech_length), as stage 12 decodes one."""
    return write_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="module")
def speech2text(tiny_model: Tuple[Path, Path]) -> "Speech2Text":
    """ESPnet's own Speech2Text class on the tiny model (beam 2, short hypotheses: milliseconds a call)."""
    from espnet_dynprune.nets.speech2text import DynPruneSpeech2Text
    from espnet_dynprune.registration import register_s2t

    register_s2t()
    from espnet2.bin.s2t_inference import Speech2Text

    assert issubclass(Speech2Text, DynPruneSpeech2Text)  # the plugin replaced ESPnet's class
    config, model = tiny_model
    return Speech2Text(s2t_train_config=str(config), s2t_model_file=str(model), beam_size=2, ctc_weight=0.0,
                       maxlenratio=0.5, lang_sym="<fra>", task_sym="<asr>")


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Two shared cores: more threads make a 20 ms decode take seconds (tests/conftest.py restores them)."""
    torch.set_num_threads(1)
    yield


# ==================================================================== assertions


def assert_test_exists(node_id: str) -> None:
    """``tests/x/test_y.py::test_z`` names a test function (so a pointer cannot go stale)."""
    path, name = node_id.split("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, name, None)), f"{node_id} does not exist"


def assert_skipped(caplog: pytest.LogCaptureFixture, n: int, total: int, what: str, reason: str,
                   first: str = "") -> None:
    """The Skips line ``skipped N of M <what>: <reason> (first: <first>...`` was logged."""
    line = f"skipped {n} of {total} {what}: {reason} (first: {first}"
    assert line in caplog.text, f"no log line starting {line!r} in:\n{caplog.text}"


def raises(error: type, *parts: str) -> pytest.RaisesExc:
    """``pytest.raises(error)`` whose message must contain every one of ``parts``, in order."""
    return pytest.raises(error, match="(?s)" + ".*".join(map(re.escape, parts)))


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


# ==================================================================== configs and models


def _finetune(ctx: Ctx, finetune: dict, *message: str) -> None:
    """stage 10's finetune_config on ``finetune`` fails naming the YAML and ``message``, writing no config."""
    s2t_config = ctx.tmp / "finetune.yaml"
    s2t_config.write_text(yaml.safe_dump(finetune), encoding="utf-8")
    output = ctx.tmp / "exp/config.yaml"
    with raises(ValueError, *message):
        finetune_config(ctx.packed, s2t_config, output)
    assert not output.exists() and not output.with_name("config.yaml.pending").exists()


def finetune_typo(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "both", "max_epochs": 3},
              f"{ctx.tmp / 'finetune.yaml'}: unknown s2t_train keys max_epochs")


def finetune_bad_prune(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "all"},
              f"prune: 'all' in {ctx.tmp / 'finetune.yaml'} is not one of encoder, decoder, both, none")


def finetune_fixed_key(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "both", "encoder": "conformer"},
              f"{ctx.tmp / 'finetune.yaml'} sets encoder, which must come from the pretrained model")


def finetune_bad_prune_conf(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "both", "prune_conf": {"sparsity": 0.5}},
              f"prune_conf in {ctx.tmp / 'finetune.yaml'}: unknown keys sparsity; valid: ", "sparsity_target")


def zoo_missing_files(ctx: Ctx) -> None:
    zoo = ctx.zoo_copy()
    bpe, stats = next(zoo.rglob("bpe.model")), next(zoo.rglob("feats_stats.npz"))
    bpe.unlink()
    stats.unlink()
    with pytest.raises(model_zoo.ModelZooError) as error:
        model_zoo.ModelZooDir.load(zoo)
    message = str(error.value)
    assert f"model-zoo directory {zoo} is incomplete (problems: 2)" in message
    assert f"looked at {bpe}" in message and f"looked at {stats}" in message


def zoo_without_meta(ctx: Ctx) -> None:
    with raises(model_zoo.ModelZooError, f"{ctx.tmp / 'meta.yaml'} does not exist: {ctx.tmp} is not a model-zoo"):
        model_zoo.ModelZooDir.load(ctx.tmp)


def checkpoint_renamed_key(ctx: Ctx) -> None:
    model = build_model()
    state = {k: v for k, v in model.state_dict().items() if ".gate_predictor." not in k}
    old = "decoder.decoders.0.feed_forward.w_1.weight"
    new = old.replace("w_1", "w_one")
    state[new] = state.pop(old)
    path = ctx.tmp / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as error:
        load_pretrained(model, path)
    assert isinstance(error.value, KeyError)
    lines = str(error.value).splitlines()
    assert lines[0] == f"{path} does not match the model:"
    assert f"  {old}  (did you mean {new}?)" in lines and f"  {new}  (did you mean {old}?)" in lines


def _truncated(path: Path, out: Path) -> Path:
    """The first half of ``path`` (an interrupted download) as ``out``."""
    out.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return out


def checkpoint_truncated(ctx: Ctx) -> None:
    model = build_model()
    torch.save(model.state_dict(), ctx.tmp / "whole.pth")
    cut = _truncated(ctx.tmp / "whole.pth", ctx.tmp / "cut.pth")
    with raises(ValueError, f"{cut} is a truncated or damaged PyTorch checkpoint"):
        load_pretrained(model, cut)


def speech2text_truncated_model(ctx: Ctx) -> None:
    from espnet2.bin.s2t_inference import Speech2Text

    config, model = ctx.model_files
    cut = _truncated(model, ctx.tmp / "cut.pth")
    with raises(ValueError, f"{cut} is a truncated or damaged PyTorch checkpoint"):
        Speech2Text(s2t_train_config=str(config), s2t_model_file=str(cut))


def longer_than_speech_length(ctx: Ctx) -> None:
    config, _ = ctx.model_files  # speech_length: 2.0
    _, dump = stage3(ctx, asr_utt("long", "0", write_tone(ctx.tmp / "audio/long.wav", 2.5)))
    with raises(ValueError, f"{dump}: long-0_asr lasts 2.50 s, longer than speech_length=2.0 in {config}"):
        check_lengths(config, [dump])


def _check_text(ctx: Ctx, text: bytes) -> List[str]:
    """run.sh stage 5's token_list arguments, with ``text`` as the training text."""
    (ctx.tmp / "text").write_bytes(text)
    return ["--pretrained_model", str(ctx.packed), "--output_dir", str(ctx.tmp / "tl"), "--check_text",
            str(ctx.tmp / "text")]


def symbol_not_a_token(ctx: Ctx) -> None:
    args = _check_text(ctx, b"u1 <fra><asr><notimestamps> a\nu7 <hun><asr><notimestamps> b\n")
    with raises(ValueError, f"{ctx.tmp / 'text'} uses symbols that are not in the pretrained token list: "
                            "<hun> (first in u7)"):
        token_list.main(args)


def check_text_not_utf8(ctx: Ctx) -> None:
    args = _check_text(ctx, "u1 <fra><asr><notimestamps> caf\xe9\n".encode("latin-1"))
    with raises(ValueError, f"{ctx.tmp / 'text'}:1: not UTF-8 text"):
        token_list.main(args)


def speech2text_unknown_language(ctx: Ctx) -> None:
    with raises(ValueError, "unknown language symbol '<jpn>'; valid: <deu> <eng> <fra>"):
        ctx.s2t(tone(1.0), lang_sym="<jpn>", task_sym="<asr>")


def speech2text_unknown_task(ctx: Ctx) -> None:
    from espnet2.bin.s2t_inference import Speech2Text

    config, model = ctx.model_files
    with raises(ValueError, "unknown task symbol '<st_jpn>'; valid: <asr> <st_eng>"):
        Speech2Text(s2t_train_config=str(config), s2t_model_file=str(model), task_sym="<st_jpn>")


# ==================================================================== inference input


def tone(seconds: float) -> np.ndarray:
    """Float32 audio in [-1, 1] at 16 kHz."""
    return (0.3 * np.sin(np.arange(int(seconds * 16000)) / 10.0)).astype(np.float32)


def waveform_empty(ctx: Ctx) -> None:
    with raises(ValueError, "speech is 0 samples (0.000 s at 16000 Hz), shorter than 0.1 s: nothing to transcribe"):
        ctx.s2t(np.zeros(0, np.float32))


def waveform_too_short(ctx: Ctx) -> None:
    with raises(ValueError, "speech is 800 samples (0.050 s at 16000 Hz), shorter than 0.1 s"):
        ctx.s2t(tone(0.05))


def waveform_not_finite(ctx: Ctx) -> None:
    speech = tone(1.0)
    speech[[100, 200]] = np.nan, np.inf
    with raises(ValueError, "speech has 2 NaN or infinite samples (the first at sample 100)"):
        ctx.s2t(speech)


def waveform_int16_values_as_float(ctx: Ctx) -> None:
    with raises(ValueError, "speech reaches 9830", "int16 values given as floats? Divide them by 32768"):
        ctx.s2t(tone(1.0) * 32767)


def waveform_int16_converted(ctx: Ctx) -> None:
    pcm = (tone(1.0) * 32767).astype(np.int16)
    _, from_int16, *_ = ctx.s2t(pcm)[0]
    _, from_float, *_ = ctx.s2t(pcm.astype(np.float32) / 32768.0)[0]
    assert from_int16 == from_float and from_int16[:3] == ["<fra>", "<asr>", "<notimestamps>"]


def waveform_stereo(ctx: Ctx) -> None:
    with raises(ValueError, "speech of shape (16000, 2): give one channel"):
        ctx.s2t(np.stack([tone(1.0)] * 2, axis=1))


def waveform_longer_than_window(ctx: Ctx) -> None:
    ctx.s2t(tone(3.0))
    assert ("speech is 3.00 s, longer than the model's 2 s input window (preprocessor_conf.speech_length): "
            "Speech2Text decodes its first 2 s and drops the last 1.00 s") in ctx.caplog.text


# ==================================================================== gates


def force_mask_for_one_part(ctx: Ctx) -> None:
    model = build_model().eval()  # encoder: 2 layers x 4 gates, decoder: 2 layers x 3 gates
    predictors = (model.encoder.gate_predictor, model.decoder.gate_predictor)
    for fits, other, g_fit, g_other in (("decoder", "encoder", 6, 8), ("encoder", "decoder", 8, 6)):
        with raises(ValueError, f"cannot force the {other}'s {g_other} gates: gate mask of shape ({g_fit},)"):
            model.force_gates(torch.ones(g_fit))
        assert [p.forcing for p in predictors] == [None, None], f"a mask for the {fits} forced a part"


def force_batch_mask_other_size(ctx: Ctx) -> None:
    model = build_model().eval()
    model.force_gates(torch.ones(3, len(model.encoder.gate_names)), part="encoder")
    with raises(ValueError, "a forced (B, G) gate mask has B = 3 rows but the batch has 1 utterance(s); "
                            "force a (G,) mask"):
        model.encode(torch.randn(1, 60, 20), torch.tensor([60]))


def decode_bad_gates(ctx: Ctx) -> None:
    for bad in ("1.5", "half"):
        with raises(ValueError, f"--gates '{bad}' must be predicted, on, off or a sparsity in [0, 1]"):
            decode.parse_gates(bad)


# ==================================================================== resumption


class Killed(BaseException):
    """A kill in the middle of a shard (a BaseException: no ``except Exception`` stops it)."""


def count_decodes(ctx: Ctx, kill_at: Optional[int] = None) -> List[int]:
    """Count the utterances stage 12 decodes from now on; with ``kill_at``, die at that one (1-based)."""
    calls: List[int] = []
    real = decode.decode_utterance

    def counting(*args, **kwargs):
        calls.append(len(calls) + 1)
        if len(calls) == kill_at:
            raise Killed
        return real(*args, **kwargs)

    ctx.monkeypatch.setattr(decode, "decode_utterance", counting)
    return calls


def _decode(ctx: Ctx, model: Tuple[Path, Path], test_set: Path, out: Path, *extra: str) -> list:
    """Stage 12's decode CLI: beam 2, no warm-up decodes."""
    return decode.main(decode_argv(model, test_set, out, "--warmup", "0", *extra))


def decode_killed_and_resumed(ctx: Ctx) -> None:
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=4), ctx.tmp / "decode"
    _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1")
    shard1 = out / "logdir/output.1"
    written = {p.name: p.stat().st_mtime_ns for p in shard1.iterdir()}
    count_decodes(ctx, kill_at=2)
    with pytest.raises(Killed):
        _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "2")
    assert (out / "logdir/output.2/text").exists() and not (out / "logdir/output.2/done").exists()

    calls = count_decodes(ctx)
    [summary] = _decode(ctx, ctx.model_files, test_set, out, "--nj", "2")  # the rerun: every shard, then merge
    assert f"{out}: shard(s) [1] are done; skipping them" in ctx.caplog.text
    assert len(calls) == 2 and {p.name: p.stat().st_mtime_ns for p in shard1.iterdir()} == written
    assert list(read_map(out / "logdir/output.2/text")) == ["utt2", "utt3"] and summary["num_utts"] == 4
    _decode(ctx, ctx.model_files, test_set, ctx.tmp / "single")
    assert read_map(out / "text") == read_map(ctx.tmp / "single/text")
    assert read_map(out / "token") == read_map(ctx.tmp / "single/token")


def decode_merge_too_early(ctx: Ctx) -> None:
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=2), ctx.tmp / "decode"
    _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1")
    with raises(FileNotFoundError, f"1 of 2 shards are not done: ['{out / 'logdir/output.2'}']"):
        _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--merge", "true")


def decode_model_replaced(ctx: Ctx) -> None:
    model = ctx.tmp / "model"
    model.mkdir()
    files = tuple(Path(shutil.copy(f, model)) for f in ctx.model_files)
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=3), ctx.tmp / "decode"
    _decode(ctx, files, test_set, out, "--nj", "2")
    shutil.copyfile(write_tiny_model(ctx.tmp / "other", seed=1)[1], files[1])  # new weights, same path
    calls = count_decodes(ctx)
    [summary] = _decode(ctx, files, test_set, out, "--nj", "2")
    for job in (1, 2):
        assert f"{out}/logdir/output.{job} was decoded from other inputs (changed: model); decoding it again" \
            in ctx.caplog.text
    assert len(calls) == 3 and summary["settings"]["inputs"] == json.loads((out / "logdir/output.1/done")
                                                                           .read_text())["inputs"]


def decode_other_settings(ctx: Ctx) -> None:
    test_set, out = write_test_set(ctx.tmp / "test_fra_asr", count=2), ctx.tmp / "decode"
    _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1")
    done = out / "logdir/output.1/done"
    before = done.read_text()
    calls = count_decodes(ctx)
    with raises(ValueError, f"{done} was decoded with other settings {{'beam_size': (2, 3)}} (old, new); remove"):
        _decode(ctx, ctx.model_files, test_set, out, "--nj", "2", "--job", "1", "--beam_size", "3")
    assert calls == [] and done.read_text() == before


def run_sh_stage(number: int) -> str:
    """The body of ``if run_stage N; then ... fi`` in the recipe's run.sh."""
    text = (RECIPE / "run.sh").read_text(encoding="utf-8")
    found = re.search(rf"^if run_stage {number}; then\n(.*?)^fi$", text, re.S | re.M)
    assert found, f"run.sh has no stage {number}"
    return found.group(1)


def finetune_resumes(ctx: Ctx) -> None:
    stage11 = run_sh_stage(11)
    assert "python -m espnet2.bin.s2t_train" in stage11
    assert '--resume true --output_dir "${s2t_exp}"' in stage11


def stage11_lookup_fails(ctx: Ctx) -> None:
    assert "--print model_file" in run_sh_stage(11)
    zoo = ctx.zoo_copy()
    bpe = next(zoo.rglob("bpe.model"))
    bpe.unlink()
    with raises(model_zoo.ModelZooError, f"model-zoo directory {zoo} is incomplete", str(bpe)):
        model_zoo.main(["--pretrained_model", str(zoo), "--print", "model_file"])


# ==================================================================== the test (after the scenarios it runs)


def _params() -> list:
    """One pytest param per row, id = row id; a scenario's own marks (``needs_ffmpeg``) and the xfail go with it."""
    rows = faults()
    assert len({f.id for f in rows}) == len(rows), "row ids must be unique"
    params = []
    for f in rows:
        marks = list(getattr(f.run, "pytestmark", []))
        if f.xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=f.xfail))
        params.append(pytest.param(f, id=f.id, marks=marks))
    return params


@pytest.mark.parametrize("fault", _params())
def test_fault(fault: Fault, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> None:
    if fault.covered_by:
        assert_test_exists(fault.covered_by)
    caplog.set_level(logging.INFO)
    fault.run(Ctx(tmp_path, caplog, monkeypatch, request))
