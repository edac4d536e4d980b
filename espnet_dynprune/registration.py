"""Make ESPnet's tasks and inference see the dynprune classes.

ESPnet picks classes by name from ``ClassChoices`` tables in its task modules,
and freezes the argparse choices when a parser is built, so the names must be
added right after the task module is imported. The package's ``.pth`` hook
calls these functions at that moment (so stock ``python -m espnet2.bin...`` and
s2t.sh work with only the config key swapped); the ``espnet_dynprune.bin``
entry points call them explicitly.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Optional

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


def _module(module: Optional[ModuleType], name: str) -> ModuleType:
    return module if module is not None else importlib.import_module(name)


def _register_nets(task: ModuleType) -> None:
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
    from espnet_dynprune.nets.safe_loading import guard_espnet

    guard_espnet()  # model files load safely also when the start-up hook is off
    task.encoder_choices.classes[ENCODER_NAME] = EBranchformerDynPruneEncoder
    task.encoder_choices.classes[PRUNABLE_ENCODER_NAME] = EBranchformerPrunableEncoder
    task.encoder_choices.classes[PRUNED_ENCODER_NAME] = EBranchformerPrunedEncoder
    task.decoder_choices.classes[DECODER_NAME] = TransformerDynPruneDecoder
    task.decoder_choices.classes[PRUNABLE_DECODER_NAME] = TransformerPrunableDecoder
    task.decoder_choices.classes[PRUNED_DECODER_NAME] = TransformerPrunedDecoder
    task.encoder_choices.classes[WHISPER_NAME] = LocalWhisperEncoder
    task.decoder_choices.classes[WHISPER_NAME] = LocalWhisperDecoder
    task.encoder_choices.classes[WHISPER_DYNPRUNE_NAME] = WhisperDynPruneEncoder
    task.decoder_choices.classes[WHISPER_DYNPRUNE_NAME] = WhisperDynPruneDecoder
    task.encoder_choices.classes[WHISPER_PRUNABLE_NAME] = WhisperPrunableEncoder
    task.encoder_choices.classes[WHISPER_PRUNED_NAME] = WhisperPrunedEncoder


def register_s2t(module: Optional[ModuleType] = None) -> None:
    """Add the encoders, the decoders and ``model: dynprune`` / ``distill_prune`` / ``magnitude_prune``
    to ``espnet2.tasks.s2t``."""
    from espnet_dynprune.models.distill_prune import DistillPruneS2TModel
    from espnet_dynprune.models.dynprune import DynPruneS2TModel
    from espnet_dynprune.models.magnitude_prune import MagnitudePruneS2TModel

    task = _module(module, "espnet2.tasks.s2t")
    _register_nets(task)
    task.model_choices.classes[MODEL_NAME] = DynPruneS2TModel
    task.model_choices.classes[DISTILL_MODEL_NAME] = DistillPruneS2TModel
    task.model_choices.classes[MAGNITUDE_MODEL_NAME] = MagnitudePruneS2TModel


def register_asr(module: Optional[ModuleType] = None) -> None:
    """Add the encoders, the decoders and ``model: dynprune`` / ``distill_prune`` to ``espnet2.tasks.asr``.

    ESPnet's own ASR model passes no language/task to the encoder: with ``model: espnet``, use
    ``gate_predictor: speech`` there (Whisper's decoder reads them from its own prompt);
    ``model: dynprune`` reads them from the targets' prompt tokens.
    """
    from espnet_dynprune.models.distill_prune import DistillPruneASRModel
    from espnet_dynprune.models.dynprune import DynPruneASRModel

    task = _module(module, "espnet2.tasks.asr")
    _register_nets(task)
    task.model_choices.classes[MODEL_NAME] = DynPruneASRModel
    task.model_choices.classes[DISTILL_MODEL_NAME] = DistillPruneASRModel


SPEECH2TEXT_MODULE = "espnet_dynprune.inference.speech2text"


def install_speech2text(module: Optional[ModuleType] = None) -> None:
    """Make ``espnet2.bin.s2t_inference.Speech2Text`` the context-aware subclass."""
    inference = _module(module, "espnet2.bin.s2t_inference")
    ours = sys.modules.get(SPEECH2TEXT_MODULE)
    if ours is not None and not hasattr(ours, "DynPruneSpeech2Text"):
        return  # it is importing ESPnet's module right now: speech2text_imported finishes the job
    from espnet_dynprune.inference.speech2text import DynPruneSpeech2Text

    if not issubclass(inference.Speech2Text, DynPruneSpeech2Text):
        inference.Speech2Text = DynPruneSpeech2Text


def speech2text_imported(module: ModuleType) -> None:
    """After ``espnet_dynprune.inference.speech2text`` ran (a program that imports it before ESPnet's
    inference module gets there while ESPnet's is still importing): install it now."""
    install_speech2text(sys.modules["espnet2.bin.s2t_inference"])


def register_all() -> None:
    """Everything above, importing the ESPnet modules as needed."""
    register_s2t()
    register_asr()
    install_speech2text()
