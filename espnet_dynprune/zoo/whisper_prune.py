"""The asr_train config of static structured pruning of a Whisper model dir (``bin.whisper_convert``'s).

Why a config of its own: the converted model's ``config.yaml`` is a complete ESPnet ASR config
whose encoder and decoder read their weights from ``whisper_model``, so distillation-pruning
needs no ``--init_param``: swap ``encoder: whisper_local`` for ``whisper_prunable`` and ``model:
espnet`` for ``distill_prune``, with the teacher (``teacher_init``) the converted model's own state
dict. The user writes only what changes per experiment::

    encoder_conf: {prune_groups: [attn_qk, attn_vo, attn, ffn_units, ffn], mask_lr_scale: 100.0}
    model_conf: {sparsity_target: 0.7, sparsity_warmup_steps: 300, distill_layers: [2, 4]}
    optim: adam               # everything else is an ordinary asr_train key
    optim_conf: {lr: 1.0e-4}
    batch_type: unsorted      # Whisper pads every input to 30 s: length sorting brings nothing
    batch_size: 4
    max_epoch: 5

Only the mask keys of ``whisper_prunable`` and the distillation keys of ``distill_prune`` may stand
in ``encoder_conf`` / ``model_conf``: the keys that fix the weights' layout come from the model.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping

from espnet_dynprune.nets.config_names import DISTILL_MODEL_NAME, WHISPER_NAME, WHISPER_PRUNABLE_NAME
from espnet_dynprune.zoo.finetune_config import deep_merge, own_keys


def prune_keys() -> Dict[str, list[str]]:
    """The keys a pruning YAML may set: ``{"encoder": [...], "model": [...]}``."""
    from espnet_dynprune.models.distill_prune import DistillPruneASRModel
    from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
    from espnet_dynprune.nets.encoder.whisper_prunable import WhisperPrunableEncoder

    stock = set(own_keys(LocalWhisperEncoder))
    return {"encoder": [k for k in own_keys(WhisperPrunableEncoder) if k not in stock],
            "model": own_keys(DistillPruneASRModel, ("teacher_init",))}


def whisper_prune_config(model_config: Mapping[str, Any], prune: Mapping[str, Any], teacher_init: str,
                         where: str = "the pruning config") -> Dict[str, Any]:
    """``model_config`` (a converted Whisper's) set up for distillation-pruning of its encoder."""
    if model_config.get("encoder") != WHISPER_NAME:
        raise ValueError(f"static pruning of Whisper starts from encoder: {WHISPER_NAME} "
                         f"(bin.whisper_convert's config), got {model_config.get('encoder')!r}")
    allowed = prune_keys()
    for part in ("encoder", "model"):
        unknown = sorted(set(prune.get(f"{part}_conf") or {}) - set(allowed[part]))
        if unknown:
            raise ValueError(f"{where}: {part}_conf keys {unknown} are not static pruning's; allowed: {allowed[part]}")
    for key in ("encoder", "decoder", "model", "decoder_conf", "token_list", "token_type", "frontend"):
        if key in prune:
            raise ValueError(f"{where}: {key!r} comes from the Whisper model, not from the pruning config")
    # ``required`` is the parser's list of mandatory options, not an option: asr_train --config refuses it
    config = copy.deepcopy({k: v for k, v in model_config.items() if k != "required"})
    deep_merge(config, {k: v for k, v in prune.items() if k not in ("encoder_conf", "model_conf")})
    config["encoder"] = WHISPER_PRUNABLE_NAME
    config["encoder_conf"] = {**config.get("encoder_conf", {}), **(prune.get("encoder_conf") or {})}
    config["model"] = DISTILL_MODEL_NAME
    config["model_conf"] = {**config.get("model_conf", {}), **(prune.get("model_conf") or {}),
                            "teacher_init": teacher_init}
    return config
