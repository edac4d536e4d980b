"""The asr_train config of fine-tuning a Whisper model dir (``bin.whisper_convert``'s), dense or with
context-aware dynamic pruning.

The converted model's ``config.yaml`` is a complete ESPnet ASR config whose encoder and decoder
read their weights from ``whisper_model``, so fine-tuning needs no ``--init_param``. The user writes
what changes per experiment, in the keys of the OWSM fine-tuning YAML
(:mod:`espnet_dynprune.zoo.finetune_config`)::

    prune: both                # encoder | decoder | both | none (dense fine-tuning)
    prune_conf:                # gating keys of whisper_dynprune, applied to each pruned part,
        sparsity_target: 0.5   # and model keys of model: dynprune (go to model_conf)
        gate_predictor: context
    encoder_conf: {sparsity_target: 0.3}   # per-part overrides, win over prune_conf
    model_conf: {lsm_weight: 0.1}          # ESPnet's ASR model keys too
    optim: adamw               # everything else is an ordinary asr_train key
    optim_conf: {lr: 1.0e-5}
    max_epoch: 3

A pruned part becomes ``whisper_dynprune`` and the model ``model: dynprune`` (:class:`~espnet_dynprune.
models.dynprune.DynPruneASRModel`), whose encoder gates read the language and task of each
utterance's Whisper prompt. A multilingual Whisper is trained with ESPnet's per-utterance prompt
(asr_train's ``use_lang_prompt: true`` and a ``prompt`` data file, ``<|fr|> <|translate|>``),
so one run covers every language and task; an English-only one has no language token, so its
encoder's gate predictor cannot be ``context``.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping

from espnet_dynprune.nets.config_names import MODEL_NAME, WHISPER_DYNPRUNE_NAME, WHISPER_NAME
from espnet_dynprune.zoo.finetune_config import deep_merge, own_keys

PRUNE_CHOICES = {"encoder": ("encoder",), "decoder": ("decoder",), "both": ("encoder", "decoder"), "none": ()}
#: What the Whisper model fixes: the classes, the tokenizer and the token list.
FIXED_KEYS = ("encoder", "decoder", "model", "token_list", "token_type", "bpemodel", "frontend", "preprocessor")


def gating_keys() -> Dict[str, List[str]]:
    """The keys ``prune_conf`` and the per-part confs may set: ``{"encoder": [...], "decoder": [...], "model": [...]}``."""
    from espnet_dynprune.models.dynprune import DynPruneASRModel
    from espnet_dynprune.nets.decoder.whisper_dynprune import WhisperDynPruneDecoder
    from espnet_dynprune.nets.decoder.whisper_local import LocalWhisperDecoder
    from espnet_dynprune.nets.encoder.whisper_dynprune import WhisperDynPruneEncoder
    from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder

    def added(cls: type, stock: type) -> List[str]:
        return [k for k in own_keys(cls) if k not in set(own_keys(stock))]

    return {"encoder": added(WhisperDynPruneEncoder, LocalWhisperEncoder),
            "decoder": added(WhisperDynPruneDecoder, LocalWhisperDecoder), "model": own_keys(DynPruneASRModel)}


def whisper_finetune_config(model_config: Mapping[str, Any], finetune: Mapping[str, Any],
                            where: str = "the fine-tuning config") -> Dict[str, Any]:
    """``model_config`` (a converted Whisper's) set up for fine-tuning as ``finetune`` says."""
    prune = finetune.get("prune", "none")
    if prune not in PRUNE_CHOICES:
        raise ValueError(f"{where}: prune {prune!r} is not one of {sorted(PRUNE_CHOICES)}")
    for part in ("encoder", "decoder"):
        if model_config.get(part) != WHISPER_NAME:
            raise ValueError(f"fine-tuning Whisper starts from {part}: {WHISPER_NAME} (bin.whisper_convert's "
                             f"config), got {model_config.get(part)!r}")
    fixed = sorted(set(finetune) & set(FIXED_KEYS))
    if fixed:
        raise ValueError(f"{where}: {fixed} come from the Whisper model, not from the fine-tuning config")
    pruned = PRUNE_CHOICES[prune]
    keys = gating_keys()
    prune_conf = dict(finetune.get("prune_conf") or {})
    if prune_conf and not pruned:
        raise ValueError(f"{where}: prune_conf is given but prune is 'none'")
    gating = set(keys["encoder"]) | set(keys["decoder"]) | set(keys["model"])
    unknown = sorted(set(prune_conf) - gating)
    if unknown:
        raise ValueError(f"{where}: prune_conf keys {unknown} are not gating keys; allowed: {sorted(gating)}")
    # ``required`` is the parser's list of mandatory options, not an option: asr_train --config refuses it
    config = copy.deepcopy({k: v for k, v in model_config.items() if k != "required"})
    for part in pruned:
        config[part] = WHISPER_DYNPRUNE_NAME
        config[f"{part}_conf"].update({k: v for k, v in prune_conf.items() if k in keys[part]})
    for part in ("encoder", "decoder"):
        own = finetune.get(f"{part}_conf") or {}
        gated = sorted(set(own) & set(keys[part]))
        if gated and part not in pruned:
            raise ValueError(f"{where}: {part}_conf keys {gated} are gating keys, but the {part} is not pruned")
    if pruned:
        config["model"] = MODEL_NAME
        config["model_conf"].update({k: v for k, v in prune_conf.items() if k in keys["model"]})
    deep_merge(config, {k: v for k, v in finetune.items() if k not in ("prune", "prune_conf")})
    if config.get("token_type") == "whisper_multilingual":
        config["use_lang_prompt"] = True
    elif pruned and "encoder" in pruned and config["encoder_conf"].get("gate_predictor", "context") == "context":
        raise ValueError(f"{where}: an English-only Whisper's targets name no language or task: give the "
                         f"encoder gate_predictor: speech or none")
    return config
