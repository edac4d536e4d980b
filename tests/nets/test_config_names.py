"""The config names of the package's classes: distinct, valid ESPnet choices, each registered to the class it names."""

from __future__ import annotations

import importlib
import re
import types
from types import SimpleNamespace

import pytest

from espnet_dynprune import registration
from espnet_dynprune.models.distill_prune import DistillPruneASRModel, DistillPruneS2TModel
from espnet_dynprune.models.dynprune import DynPruneASRModel, DynPruneS2TModel
from espnet_dynprune.models.magnitude_prune import MagnitudePruneS2TModel
from espnet_dynprune.nets import config_names
from espnet_dynprune.nets.config_names import (
    DECODER_NAME,
    DISTILL_MODEL_NAME,
    ENCODER_NAME,
    MAGNITUDE_MODEL_NAME,
    MODEL_NAME,
    PRUNABLE_DECODER_NAME,
    PRUNABLE_ENCODER_NAME,
    PRUNED_DECODER_NAME,
    PRUNED_ENCODER_NAME,
    WHISPER_DYNPRUNE_NAME,
    WHISPER_NAME,
    WHISPER_PRUNABLE_NAME,
    WHISPER_PRUNED_NAME,
)
from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.decoder.transformer_prunable import TransformerPrunableDecoder
from espnet_dynprune.nets.decoder.transformer_pruned import TransformerPrunedDecoder
from espnet_dynprune.nets.decoder.whisper_dynprune import WhisperDynPruneDecoder
from espnet_dynprune.nets.decoder.whisper_local import LocalWhisperDecoder
from espnet_dynprune.nets.encoder.e_branchformer_dynprune import EBranchformerDynPruneEncoder
from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder
from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder
from espnet_dynprune.nets.encoder.whisper_dynprune import WhisperDynPruneEncoder
from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
from espnet_dynprune.nets.encoder.whisper_prunable import WhisperPrunableEncoder
from espnet_dynprune.nets.encoder.whisper_pruned import WhisperPrunedEncoder

NAMES = {key: value for key, value in vars(config_names).items() if key.endswith("_NAME")}

ENCODERS = {
    ENCODER_NAME: EBranchformerDynPruneEncoder,
    PRUNABLE_ENCODER_NAME: EBranchformerPrunableEncoder,
    PRUNED_ENCODER_NAME: EBranchformerPrunedEncoder,
    WHISPER_NAME: LocalWhisperEncoder,
    WHISPER_DYNPRUNE_NAME: WhisperDynPruneEncoder,
    WHISPER_PRUNABLE_NAME: WhisperPrunableEncoder,
    WHISPER_PRUNED_NAME: WhisperPrunedEncoder,
}
DECODERS = {
    DECODER_NAME: TransformerDynPruneDecoder,
    PRUNABLE_DECODER_NAME: TransformerPrunableDecoder,
    PRUNED_DECODER_NAME: TransformerPrunedDecoder,
    WHISPER_NAME: LocalWhisperDecoder,
    WHISPER_DYNPRUNE_NAME: WhisperDynPruneDecoder,
}
S2T_MODELS = {MODEL_NAME: DynPruneS2TModel, DISTILL_MODEL_NAME: DistillPruneS2TModel,
              MAGNITUDE_MODEL_NAME: MagnitudePruneS2TModel}
ASR_MODELS = {MODEL_NAME: DynPruneASRModel, DISTILL_MODEL_NAME: DistillPruneASRModel}


def stand_in_task() -> types.ModuleType:
    """An ESPnet task module with empty ``ClassChoices``-like tables."""
    module = types.ModuleType("fake_task")
    for table in ("encoder_choices", "decoder_choices", "model_choices"):
        setattr(module, table, SimpleNamespace(classes={}))
    return module


def test_every_name_is_distinct_and_a_lower_case_config_word():
    assert len(NAMES) == 13 and len(set(NAMES.values())) == len(NAMES)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in NAMES.values()), NAMES
    assert {ENCODER_NAME, DECODER_NAME, MODEL_NAME} == {"e_branchformer_dynprune", "transformer_dynprune", "dynprune"}


def test_every_name_names_a_class_registered():
    registered = {*ENCODERS, *DECODERS, *S2T_MODELS, *ASR_MODELS}
    assert registered == set(NAMES.values())


@pytest.mark.parametrize("register, models", [(registration.register_s2t, S2T_MODELS),
                                              (registration.register_asr, ASR_MODELS)], ids=["s2t", "asr"])
def test_each_name_gets_exactly_the_class_it_names(register, models):
    task = stand_in_task()
    register(task)
    assert task.encoder_choices.classes == ENCODERS
    assert task.decoder_choices.classes == DECODERS
    assert task.model_choices.classes == models


@pytest.mark.parametrize("module", ["espnet2.tasks.s2t", "espnet2.tasks.asr"])
def test_espnet_s_own_tables_give_the_class_for_the_name(module):
    task = importlib.import_module(module)
    (registration.register_s2t if module.endswith("s2t") else registration.register_asr)()
    models = S2T_MODELS if module.endswith("s2t") else ASR_MODELS
    for choices, classes in ((task.encoder_choices, ENCODERS), (task.decoder_choices, DECODERS),
                             (task.model_choices, models)):
        assert set(classes) <= set(choices.choices())
        assert {name: choices.get_class(name) for name in classes} == classes
    with pytest.raises(ValueError, match="--encoder must be one of"):
        task.encoder_choices.get_class("e_branchformer_dynpruned")
