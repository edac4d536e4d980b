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

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Tuple

import pytest
import torch

from tests.builders.tiny_decoding import write_tiny_model
from tests.faults import (
    corpus_scenarios as corpus,
    model_scenarios as models,
    resume_scenarios as resume,
    static_scenarios as static,
)
from tests.faults.context import Ctx, assert_test_exists

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
        Fault("root-missing-europarl", run=corpus.missing_europarl_root,
              input="EUROPARL_ST in db.sh names no directory",
              stage="stage 1: corpora.prepare",
              outcome="FileNotFoundError naming the path and EUROPARL_ST"),
        Fault("root-missing-fleurs", run=corpus.missing_fleurs_root,
              input="FLEURS in db.sh names no directory",
              stage="stage 1: corpora.prepare (run.sh)",
              outcome="FileNotFoundError naming the path and FLEURS; run.sh stops with it",
              covered_by=f"{RECIPE_TEST}::test_missing_corpus_root_names_the_db_sh_variable"),
        Fault("root-missing-voxforge", run=corpus.missing_voxforge_root,
              input="VOXFORGE in db.sh names no directory",
              stage="stage 1: corpora.prepare",
              outcome="FileNotFoundError naming the path and VOXFORGE"),
        Fault("root-crlf", run=corpus.db_root_crlf,
              input="db.sh saved with CRLF line ends (FLEURS=<root>\\r, VOXFORGE=\\r)",
              stage="stage 1: corpora.prepare",
              outcome="whitespace and \\r around a root are dropped: the root is found, an empty one is off"),
        Fault("epst-audio-missing", run=corpus.europarl_audio_missing,
              input="Europarl-ST segment whose .m4a is missing",
              stage="stage 1: europarl_st.read_split",
              outcome="skipped and logged: 'audio file missing (first: <m4a>)'"),
        Fault("epst-empty-transcript", run=corpus.europarl_empty_transcript,
              input="Europarl-ST segment with an empty transcript",
              stage="stage 1: europarl_st.read_split",
              outcome="skipped and logged: 'empty transcript in segments.fr (first: segments.lst:<line>)'"),
        Fault("epst-end-before-start", run=corpus.europarl_end_before_start,
              input="Europarl-ST segment with end <= start",
              stage="stage 1: europarl_st.read_split",
              outcome="skipped and logged: 'end <= start (first: segments.lst:<line>)'"),
        Fault("epst-misaligned", run=corpus.europarl_misaligned,
              input="segments.lst, segments.fr, segments.en with different line counts",
              stage="stage 1: europarl_st.read_split",
              outcome="ValueError naming the three files and their line counts"),
        Fault("epst-bad-segment-line", run=corpus.europarl_bad_segment_line,
              input="segments.lst line that is not '<audio_id> <start> <end>'",
              stage="stage 1: europarl_st.read_split",
              outcome="ValueError naming file, line and the line's text"),
        Fault("epst-not-utf8", run=corpus.europarl_not_utf8,
              input="Latin-1 byte in segments.fr",
              stage="stage 1: europarl_st.read_split",
              outcome="ValueError naming file and line ('segments.fr:2: not UTF-8 text')"),
        Fault("epst-bom-crlf", run=corpus.europarl_bom_crlf,
              input="Europarl-ST segments.lst / segments.fr / segments.en with a UTF-8 byte-order mark, "
                    "CRLF line ends and trailing spaces",
              stage="stage 1: europarl_st.read_split",
              outcome="the same utterances as from the clean files (no mark, \\r or space in a key or text)"),
        Fault("fleurs-bom-crlf", run=corpus.fleurs_bom_crlf,
              input="FLEURS tsv with a UTF-8 byte-order mark, CRLF line ends and trailing spaces",
              stage="stage 1: fleurs.read_split",
              outcome="the same utterances as from the clean file"),
        Fault("voxforge-bom-crlf", run=corpus.voxforge_bom_crlf,
              input="VoxForge prompts-original with a UTF-8 byte-order mark, CRLF line ends and trailing spaces",
              stage="stage 1: voxforge.read_language",
              outcome="the same utterances as from the clean file"),
        Fault("fleurs-bad-columns", run=corpus.fleurs_bad_columns,
              input="FLEURS tsv line without 7 tab-separated columns",
              stage="stage 1: fleurs.read_split",
              outcome="ValueError naming file and line and the 7 columns"),
        Fault("fleurs-empty-transcription", run=corpus.fleurs_empty_transcription,
              input="FLEURS row with an empty transcription",
              stage="stage 1: fleurs.read_split",
              outcome="skipped and logged: 'empty transcription (first: id <id>)'"),
        Fault("voxforge-not-utf8", run=corpus.voxforge_not_utf8,
              input="Latin-1 byte in a VoxForge prompts-original",
              stage="stage 1: voxforge.read_language",
              outcome="ValueError naming file and line"),
        # ---------------------------------------------------------------- audio, stage 3 and 4
        Fault("audio-gone", run=corpus.stage3_audio_gone,
              input="audio file deleted after stage 1",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'unreadable audio (first: ffmpeg could not decode <file>: ...)'"),
        Fault("audio-zero-bytes", run=corpus.stage3_zero_bytes,
              input="zero-byte audio file",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'unreadable audio (first: ffmpeg could not decode <file>: ...)'"),
        Fault("audio-no-samples", run=corpus.stage3_no_samples,
              input="wav with a header and no samples",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'empty audio (first: <file>)'"),
        Fault("m4a-truncated", run=corpus.stage3_truncated_m4a,
              input="m4a cut short (an interrupted copy: no moov box)",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'unreadable audio (first: ffmpeg could not decode <file>: ...)'"),
        Fault("wav-truncated", run=corpus.stage3_truncated_wav,
              input="wav cut short (header: 2 s, file: 1 s), used whole",
              stage="stage 3: format_audio",
              outcome="skipped and logged as unreadable audio"),
        Fault("m4a-damaged-errors", run=corpus.stage3_damaged_m4a,
              input="m4a with 40 KB overwritten mid-file (ffmpeg logs errors, exits 0)",
              stage="stage 3: format_audio (audio_io.decode)",
              outcome="every segment of the talk skipped: 'unreadable audio (first: ffmpeg could not decode <file>: "
                      "...)'; none cut at shifted times"),
        Fault("m4a-damaged-short", run=corpus.stage3_shortened_m4a,
              input="m4a with a damaged timing table (ffmpeg decodes 5 of 25 s, no error)",
              stage="stage 3: format_audio (audio_io.decode)",
              outcome="every segment skipped: 'unreadable audio (first: <file> decoded to 4.xx s but its container "
                      "indexes 25.00 s (damaged?))'"),
        Fault("segment-past-end", run=corpus.stage3_past_the_end,
              input="segment ending 0.2 s after its 2 s recording",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'past the end of the audio (2.00 s) (first: <utt> (<file> 1.5-2.2))'; an "
                      "overshoot up to 0.05 s is trimmed instead"),
        Fault("segment-too-short", run=corpus.stage3_too_short,
              input="0.05 s utterance in a test set",
              stage="stage 3: format_audio",
              outcome="skipped and logged: 'shorter than min_duration=0.1 s'"),
        Fault("test-longer-30s", run=corpus.stage3_longer_than_30s,
              input="30.5 s utterance in a test set",
              stage="stage 3: format_audio (test sets)",
              outcome="skipped and logged: 'longer than max_duration=30.0 s (first: <utt> (<file> ...))'"),
        Fault("train-longer-30s", run=corpus.stage4_longer_than_30s,
              input="30.5 s utterance in train",
              stage="stage 4: filter_lengths",
              outcome="kept by stage 3 (no limits for train/dev), then skipped and logged by stage 4: 'longer than "
                      "max_duration=30.0 s (first: <utt> (30.50 s))'"),
        Fault("audio-replaced", run=corpus.stage3_audio_replaced,
              input="source audio replaced after stage 3 ran (same size, new mtime)",
              stage="stage 3: format_audio (.done)",
              outcome="rerun with the same inputs returns at once; after the replacement that dump dir is redone "
                      "('changed: audio_sha1; redoing it') with the new samples"),
        Fault("wav-scp-pipe", run=corpus.stage3_pipe_in_wav_scp,
              input="wav.scp entry that is a command ('sox ... |')",
              stage="stage 3: format_audio",
              outcome="ValueError naming wav.scp and the key"),
        Fault("segments-unknown-rec", run=corpus.stage3_unknown_recording,
              input="segments line naming a recording not in wav.scp",
              stage="stage 3: format_audio",
              outcome="ValueError naming segments, the utterance and the recording"),
        Fault("datadir-bom-crlf", run=corpus.datadir_bom_crlf,
              input="a data dir's text / wav.scp / utt2spk with a UTF-8 byte-order mark, CRLF line ends "
                    "and trailing spaces",
              stage="every Kaldi-file reader: owsm.datadir.read_map (stages 3, 4, 12, 13)",
              outcome="the same keys and values as from the clean files"),
        Fault("text-not-utf8", run=corpus.stage3_text_not_utf8,
              input="Latin-1 byte in a data dir's text",
              stage="stage 3: format_audio",
              outcome="ValueError naming file and line ('text:1: not UTF-8 text')"),
        # ---------------------------------------------------------------- configs and models
        Fault("finetune-typo-key", run=models.finetune_typo,
              input="fine-tuning YAML with 'max_epochs' (typo)",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the YAML and the key; no config written"),
        Fault("finetune-bad-prune", run=models.finetune_bad_prune,
              input="fine-tuning YAML with 'prune: all'",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the YAML, the value and the valid ones"),
        Fault("finetune-fixed-key", run=models.finetune_fixed_key,
              input="fine-tuning YAML setting 'encoder:'",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the YAML and the key (it must come from the pretrained model)"),
        Fault("finetune-bad-prune-conf", run=models.finetune_bad_prune_conf,
              input="fine-tuning YAML with an unknown prune_conf key",
              stage="stage 10: zoo.finetune_config",
              outcome="ValueError naming the key and the valid ones"),
        # ------------------------------------------------------ static pruning, stages 6-8
        Fault("static-target", run=static.target_out_of_range,
              input="prune: static with sparsity_target: 1.0",
              stage="stage 6: zoo.finetune_config (model: distill_prune)",
              outcome="ValueError naming model_conf sparsity_target and the value; no config written"),
        Fault("static-mask-group", run=static.unknown_mask_group,
              input="prune_groups naming a mask group that does not exist",
              stage="stage 6: zoo.finetune_config (encoder: e_branchformer_prunable)",
              outcome="ValueError naming the group and the valid ones; no config written"),
        Fault("static-decoder-mask-group", run=static.decoder_mask_group,
              input="prune: static_decoder with an encoder-only mask group (cgmlp)",
              stage="stage 6: zoo.finetune_config (decoder: transformer_prunable)",
              outcome="ValueError naming decoder_conf prune_groups, the group and the decoder's valid ones; "
                      "no config written"),
        Fault("static-rel-pos", run=static.relative_positions,
              input="prune: static on a model with relative-position attention (ESPnet's default)",
              stage="stage 6: zoo.finetune_config",
              outcome="ValueError naming attention_layer_type, its value, and that it is ESPnet's default"),
        Fault("static-export-no-masks", run=static.export_without_masks,
              input="export of a model that has no masks",
              stage="stage 8: bin.export_pruned",
              outcome="ValueError naming the config, its encoder and decoder; nothing written"),
        Fault("static-sizes-mismatch", run=static.sizes_disagree_with_weights,
              input="exported dir whose encoder or decoder layer_sizes disagree with its weights",
              stage="Speech2Text / s2t_train --init_param (ESPnet's strict=False load)",
              outcome="ValueError naming the weight, both shapes and encoder_conf / decoder_conf layer_sizes[i]",
              covered_by="tests/egs2/test_static_pruning.py::test_sizes_that_disagree_with_the_weights_fail_naming_the_layer"),
        Fault("zoo-missing-files", run=models.zoo_missing_files,
              input="model-zoo dir without bpe.model and feats_stats.npz",
              stage="stages 5, 10, 11: zoo.ModelZooDir.load",
              outcome="ModelZooError listing every missing file and where it looked"),
        Fault("zoo-no-meta", run=models.zoo_without_meta,
              input="model-zoo dir without meta.yaml",
              stage="stages 5, 10, 11: zoo.ModelZooDir.load",
              outcome="ModelZooError naming meta.yaml"),
        Fault("checkpoint-renamed-key", run=models.checkpoint_renamed_key,
              input="checkpoint with one key renamed",
              stage="nets.checkpoint.load_pretrained",
              outcome="CheckpointMismatchError (a KeyError) naming the file and the key, paired with the one it "
                      "renames"),
        Fault("checkpoint-truncated", run=models.checkpoint_truncated,
              input="truncated .pth (an interrupted download)",
              stage="nets.checkpoint.load_pretrained",
              outcome="ValueError naming the file"),
        Fault("s2t-checkpoint-truncated", run=models.speech2text_truncated_model,
              input="truncated .pth given to Speech2Text",
              stage="Speech2Text(...)",
              outcome="ValueError naming the file, before the model is built"),
        Fault("utt-longer-than-model", run=models.longer_than_speech_length,
              input="utterance longer than the model's speech_length",
              stage="stage 10: zoo.check_lengths",
              outcome="ValueError naming the dump dir, the utterance, its length and the limit"),
        Fault("data-symbol-no-token", run=models.symbol_not_a_token,
              input="training text with <hun>, a model without that token",
              stage="stage 5: recipe.token_list --check_text",
              outcome="ValueError naming the text file, the symbol and its first utt"),
        Fault("check-text-not-utf8", run=models.check_text_not_utf8,
              input="Latin-1 byte in the text given to --check_text",
              stage="stage 5: recipe.token_list --check_text",
              outcome="ValueError naming file and line"),
        Fault("s2t-unknown-lang", run=models.speech2text_unknown_language,
              input="lang_sym the model has no token for ('<jpn>')",
              stage="Speech2Text.__call__",
              outcome="ValueError naming the symbol and the model's languages"),
        Fault("s2t-unknown-task", run=models.speech2text_unknown_task,
              input="task_sym the model has no token for ('<st_jpn>')",
              stage="Speech2Text(...)",
              outcome="ValueError naming the symbol and the model's tasks"),
        # ---------------------------------------------------------------- inference input
        Fault("wave-empty", run=models.waveform_empty,
              input="empty waveform",
              stage="Speech2Text.__call__",
              outcome="ValueError: '0 samples (0.000 s at 16000 Hz), shorter than 0.1 s'"),
        Fault("wave-0.05s", run=models.waveform_too_short,
              input="0.05 s waveform",
              stage="Speech2Text.__call__",
              outcome="ValueError: '800 samples (0.050 s at 16000 Hz), shorter than 0.1 s'"),
        Fault("wave-nan-inf", run=models.waveform_not_finite,
              input="NaN and inf samples",
              stage="Speech2Text.__call__",
              outcome="ValueError naming how many and the first one's index"),
        Fault("wave-int16-as-float", run=models.waveform_int16_values_as_float,
              input="int16 sample values in a float array",
              stage="Speech2Text.__call__",
              outcome="ValueError: 'int16 values given as floats? Divide them by 32768'"),
        Fault("wave-int16", run=models.waveform_int16_converted,
              input="int16 PCM array",
              stage="Speech2Text.__call__",
              outcome="converted (/32768): the same hypothesis as the float array"),
        Fault("wave-stereo", run=models.waveform_stereo,
              input="stereo (samples, 2) array",
              stage="Speech2Text.__call__",
              outcome="ValueError naming the shape: give one channel"),
        Fault("wave-longer-than-window", run=models.waveform_longer_than_window,
              input="3 s waveform, a 2 s input window",
              stage="Speech2Text.__call__",
              outcome="decoded, with a warning naming the window and the 1.00 s it drops"),
        # ---------------------------------------------------------------- gates
        Fault("gates-mask-one-part", run=models.force_mask_for_one_part,
              input="force_gates mask that fits the decoder's 6 gates, not the encoder's 8 (and the other way round)",
              stage="DynPruneS2TModel.force_gates",
              outcome="ValueError naming the part, its gate count and the mask's shape; neither part forced"),
        Fault("gates-batch-mask", run=models.force_batch_mask_other_size,
              input="(B, G) mask with B = 3 for a batch of 1",
              stage="DynPruneS2TModel.encode",
              outcome="ValueError naming both sizes; suggests a (G,) mask"),
        Fault("gates-bad-spec", run=models.decode_bad_gates,
              input="--gates 1.5 (or 'half')",
              stage="stage 12: recipe.decode",
              outcome="ValueError naming the value"),
        # ---------------------------------------------------------------- resumption
        Fault("decode-killed", run=resume.decode_killed_and_resumed,
              input="decoding killed in shard 2 of 2 (shard 1 done)",
              stage="stage 12: recipe.decode",
              outcome="rerun skips shard 1 (files untouched), decodes shard 2 anew; merge equals a single run"),
        Fault("decode-merge-early", run=resume.decode_merge_too_early,
              input="--merge true while a shard is not done",
              stage="stage 12: recipe.decode",
              outcome="FileNotFoundError naming the shard dirs not done"),
        Fault("decode-model-replaced", run=resume.decode_model_replaced,
              input="model file replaced at the same path after decoding",
              stage="stage 12: recipe.decode (done file)",
              outcome="every shard decoded again ('changed: model; decoding it again')"),
        Fault("decode-other-settings", run=resume.decode_other_settings,
              input="shard decoded with beam 2, rerun into the same dir with beam 3",
              stage="stage 12: recipe.decode",
              outcome="ValueError naming the done file and {'beam_size': (2, 3)}; nothing decoded"),
        Fault("finetune-killed", run=resume.finetune_resumes,
              input="fine-tuning killed mid-run",
              stage="stage 11: run.sh -> espnet2.bin.s2t_train",
              outcome="run.sh passes ESPnet's --resume true with a fixed --output_dir: s2t_train restarts from "
                      "its checkpoint.pth (the last finished epoch)",
              note="checked: the flags in run.sh stage 11; not run: killing and resuming s2t_train needs a "
                   "training run (~30 s on 2 cores; the suite's shared trained_dynprune fixture does not resume), "
                   "and the resume itself is ESPnet's"),
        Fault("lookup-failed", run=resume.stage11_lookup_fails,
              input="model-zoo dir missing bpe.model at stage 11",
              stage="stage 11: recipe.model_zoo --print (run.sh)",
              outcome="ModelZooError naming bpe.model; run.sh stops before training (no train.log)",
              covered_by=f"{RECIPE_TEST}::test_pretrain_standin_then_stages_1_to_13"),
        Fault("decode-bad-pattern", run=resume.decode_bad_pattern_file,
              input="--gates pattern file whose keep flags are not true/false",
              stage="stage 12: recipe.decode",
              outcome="ValueError naming the file and the expected {part: {gate: true|false}}"),
        # ---------------------------------------------------------------- the experiment grid
        Fault("grid-unknown-key", run=resume.grid_unknown_key,
              input="grid YAML entry with a key the grid does not know (sparsity: for sweep:)",
              stage="recipe.grid",
              outcome="ValueError naming the grid file, the experiment and the key, and listing the keys"),
        Fault("grid-stale-exp", run=resume.grid_exp_dir_from_another_spec,
              input="exp/<name> made from another spec (a YAML it reads changed since)",
              stage="recipe.grid",
              outcome="ValueError naming exp/<name> and both spec hashes before anything runs; never mixed"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """A tiny random dynprune model (2 s speech_length), as stage 12 decodes one."""
    return write_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="module")
def speech2text(tiny_model: Tuple[Path, Path]) -> "Speech2Text":
    """ESPnet's own Speech2Text class on the tiny model (beam 2, short hypotheses: milliseconds a call)."""
    from espnet_dynprune.inference.speech2text import DynPruneSpeech2Text
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
