"""Registration: the config names ESPnet's task tables get, and the context-aware Speech2Text put in ESPnet's place."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from espnet_dynprune import registration
from espnet_dynprune.inference import speech2text
from espnet_dynprune.inference.speech2text import DynPruneSpeech2Text

#: What users write in their configs: renaming one breaks every config that uses it.
ENCODERS = {"e_branchformer_dynprune", "e_branchformer_prunable", "e_branchformer_pruned", "whisper_local",
            "whisper_dynprune", "whisper_prunable", "whisper_pruned"}
DECODERS = {"transformer_dynprune", "transformer_prunable", "transformer_pruned", "whisper_local", "whisper_dynprune"}
MODELS = {"dynprune", "distill_prune", "magnitude_prune"}


def task_tables(*tables: str) -> types.ModuleType:
    """A stand-in for an ESPnet task module: empty ``ClassChoices``-like tables."""
    module = types.ModuleType("fake_task")
    for table in tables:
        setattr(module, table, SimpleNamespace(classes={}))
    return module


def test_s2t_gets_every_encoder_decoder_and_model_under_its_config_name() -> None:
    task = task_tables("encoder_choices", "decoder_choices", "model_choices")
    registration.register_s2t(task)
    assert ENCODERS <= set(task.encoder_choices.classes) and DECODERS <= set(task.decoder_choices.classes)
    assert set(task.model_choices.classes) == MODELS
    classes = {name: cls.__name__ for table in ("encoder", "decoder", "model")
               for name, cls in getattr(task, f"{table}_choices").classes.items() if "whisper" not in name}
    assert classes == {
        "e_branchformer_dynprune": "EBranchformerDynPruneEncoder",
        "e_branchformer_prunable": "EBranchformerPrunableEncoder",
        "e_branchformer_pruned": "EBranchformerPrunedEncoder",
        "transformer_dynprune": "TransformerDynPruneDecoder",
        "transformer_prunable": "TransformerPrunableDecoder",
        "transformer_pruned": "TransformerPrunedDecoder",
        "dynprune": "DynPruneS2TModel",
        "distill_prune": "DistillPruneS2TModel",
        "magnitude_prune": "MagnitudePruneS2TModel",
    }


def test_asr_gets_the_encoders_decoders_and_asr_models_of_its_own() -> None:
    """Whisper in ESPnet is an ASR model: ``dynprune`` and ``distill_prune`` have ASR models of their
    own (the language and task come from Whisper's prompt tokens, not OWSM's prefix)."""
    task = task_tables("encoder_choices", "decoder_choices", "model_choices")
    registration.register_asr(task)
    assert ENCODERS <= set(task.encoder_choices.classes) and DECODERS <= set(task.decoder_choices.classes)
    assert {name: cls.__name__ for name, cls in task.model_choices.classes.items()} == {
        "dynprune": "DynPruneASRModel", "distill_prune": "DistillPruneASRModel"}


def test_espnet_s_speech2text_is_replaced_once_and_a_subclass_of_ours_is_kept() -> None:
    class Speech2Text:  # ESPnet's, standing in
        pass

    inference = SimpleNamespace(Speech2Text=Speech2Text)
    registration.install_speech2text(inference)
    assert inference.Speech2Text is DynPruneSpeech2Text
    registration.install_speech2text(inference)
    assert inference.Speech2Text is DynPruneSpeech2Text

    class Further(DynPruneSpeech2Text):
        pass

    inference.Speech2Text = Further
    registration.install_speech2text(inference)
    assert inference.Speech2Text is Further


def test_while_our_speech2text_module_imports_it_finishes_the_job_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """ESPnet's inference module imported from inside ours: ours is not complete yet, so installing waits for it."""
    inference = types.ModuleType("espnet2.bin.s2t_inference")
    inference.Speech2Text = object
    monkeypatch.setitem(sys.modules, "espnet2.bin.s2t_inference", inference)
    monkeypatch.setitem(sys.modules, registration.SPEECH2TEXT_MODULE, types.ModuleType("half_imported"))
    registration.install_speech2text(inference)
    assert inference.Speech2Text is object
    monkeypatch.setitem(sys.modules, registration.SPEECH2TEXT_MODULE, speech2text)  # its import has finished
    registration.speech2text_imported(speech2text)
    assert inference.Speech2Text is DynPruneSpeech2Text


def test_register_all_reaches_espnet_s_own_modules() -> None:
    from espnet2.bin import s2t_inference
    from espnet2.tasks.asr import ASRTask
    from espnet2.tasks.s2t import S2TTask

    registration.register_all()
    assert s2t_inference.Speech2Text is DynPruneSpeech2Text
    s2t_names = {c.name: set(c.classes) for c in S2TTask.class_choices_list}
    asr_names = {c.name: set(c.classes) for c in ASRTask.class_choices_list}
    assert ENCODERS <= s2t_names["encoder"] and DECODERS <= s2t_names["decoder"] and MODELS <= s2t_names["model"]
    assert ENCODERS <= asr_names["encoder"] and DECODERS <= asr_names["decoder"]
