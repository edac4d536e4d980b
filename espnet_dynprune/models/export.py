"""A distillation-pruned S2T or ASR model (config + weights) as the smaller model it stands for.

The config keeps every key of the training run's but the pruned parts (``e_branchformer_prunable``
becomes ``e_branchformer_pruned``, ``whisper_prunable`` ``whisper_pruned``, ``transformer_prunable``
``transformer_pruned``, each with the keys pruning adds (``layer_sizes``; Whisper's also
``whisper_dims``) and without the mask keys) and the model (``distill_prune`` becomes ESPnet's own
``espnet``, without the distillation keys), so stock ESPnet code (``Speech2Text``,
``s2t_train`` / ``asr_train --init_param``) builds and loads it through the plugin's
registration. The weights are the student's with the pruned parts replaced and the masks and
Lagrangian multipliers gone.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any, Mapping

import torch

from espnet_dynprune.models.distill_prune import DISTILL_KEYS
from espnet_dynprune.nets.checkpoint import load_pretrained
from espnet_dynprune.nets.config_names import (
    PRUNABLE_DECODER_NAME,
    PRUNABLE_ENCODER_NAME,
    PRUNED_DECODER_NAME,
    PRUNED_ENCODER_NAME,
    WHISPER_PRUNABLE_NAME,
    WHISPER_PRUNED_NAME,
)
from espnet_dynprune.nets.decoder.transformer_prunable import export_decoder
from espnet_dynprune.nets.encoder.e_branchformer_prunable import export_encoder
from espnet_dynprune.nets.encoder.whisper_prunable import export_encoder as export_whisper_encoder

STOCK_MODEL = "espnet"
TASKS = ("s2t", "asr")
#: masked class -> (its part, the exported class, how to export it)
EXPORTS = {
    PRUNABLE_ENCODER_NAME: ("encoder", PRUNED_ENCODER_NAME, export_encoder),
    WHISPER_PRUNABLE_NAME: ("encoder", WHISPER_PRUNED_NAME, export_whisper_encoder),
    PRUNABLE_DECODER_NAME: ("decoder", PRUNED_DECODER_NAME, export_decoder),
}
#: ``*_conf`` keys of the prunable parts that are about the masks, not the network.
MASK_KEYS = ("prune_groups", "mask_init_keep", "mask_straight_through", "mask_lr_scale")


def masked_parts(config: Mapping[str, Any]) -> list[str]:
    """The parts of a training config that run under masks."""
    return [part for part in ("encoder", "decoder") if EXPORTS.get(config.get(part), ("",))[0] == part]


def build_model(config: Mapping[str, Any], task: str = "s2t") -> torch.nn.Module:
    """ESPnet's ``S2TTask`` / ``ASRTask.build_model`` on the ``config.yaml`` of an s2t_train / asr_train
    run, read as ``build_model_from_file`` reads it (every argument is in the file). The plugin's
    class names must be registered (the import hook does it; ``espnet_dynprune.registration``)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "asr":
        from espnet2.tasks.asr import ASRTask as Task
    else:
        from espnet2.tasks.s2t import S2TTask as Task
    return Task.build_model(argparse.Namespace(**config))


def build_s2t_model(config: Mapping[str, Any]) -> torch.nn.Module:
    """:func:`build_model` of the S2T task."""
    return build_model(config, "s2t")


def load_masked_model(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], where: str,
                      task: str = "s2t") -> torch.nn.Module:
    """The trained ``model: distill_prune`` in eval (no teacher needed), loaded strictly."""
    if not masked_parts(config):
        raise ValueError(f"{where} has no masks to export: encoder is {config.get('encoder')!r} and decoder is "
                         f"{config.get('decoder')!r}, none of {sorted(EXPORTS)}")
    config = copy.deepcopy(dict(config))
    config.setdefault("model_conf", {})["teacher_init"] = ""
    model = build_model(config, task)
    untrained = [k for k in load_pretrained(model, state) if ".layer_masks." in f".{k}"]
    if untrained:
        raise ValueError(f"the weights for {where} have no masks ({untrained[0]}, ...): "
                         f"export a model trained with model: distill_prune")
    return model.eval()


def exported_config(config: Mapping[str, Any], added: Mapping[str, dict]) -> dict[str, Any]:
    """The training config with the smaller parts (``added``: part -> the ``*_conf`` keys pruning adds,
    the exported part's ``pruned_conf()``) and ESPnet's model class."""
    out = copy.deepcopy(dict(config))
    for part, keys in added.items():
        out[part] = EXPORTS[config[part]][1]
        conf = {k: v for k, v in (out.get(f"{part}_conf") or {}).items() if k not in MASK_KEYS}
        out[f"{part}_conf"] = {**conf, **keys}
    out["model"] = STOCK_MODEL
    out["model_conf"] = {k: v for k, v in (out.get("model_conf") or {}).items() if k not in DISTILL_KEYS}
    return out


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _output_diff(part: str, masked: torch.nn.Module, exported: torch.nn.Module) -> float:
    """Max abs difference of the two modules' outputs (the decoder's before its output layer) on a
    random input, two utterances of which one is padded."""
    generator = torch.Generator().manual_seed(0)
    if part == "encoder":
        raw = masked.input_size == 1  # Whisper's encoder reads the waveform
        feats = torch.randn(2, 16000 if raw else 200, *(() if raw else (masked.input_size,)), generator=generator)
        lengths = torch.tensor([feats.size(1), feats.size(1) * 3 // 4])
        return (masked(feats, lengths)[0] - exported(feats, lengths)[0]).abs().max().item()
    memory = torch.randn(2, 50, masked.encoder_output_size, generator=generator)
    tokens = torch.randint(0, masked.vocab_size, (2, 12), generator=generator)
    args = (memory, torch.tensor([50, 31]), tokens, torch.tensor([12, 7]))
    return (masked(*args, return_hs=True)[0][1] - exported(*args, return_hs=True)[0][1]).abs().max().item()


@torch.no_grad()
def export_model(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], where: str,
                 task: str = "s2t") -> tuple[dict, dict, dict]:
    """(config, state dict, report) of the smaller model; the report compares sizes and checks that
    each exported part computes what its masked part did (max abs diff on a random input; float32, eval)."""
    masked = load_masked_model(config, state, where, task)
    parts = masked_parts(config)
    exported = {part: EXPORTS[config[part]][2](getattr(masked, part)).eval() for part in parts}
    new_config = exported_config(config, {part: m.pruned_conf() for part, m in exported.items()})
    new_state = {k: v for k, v in masked.state_dict().items() if not k.startswith((*(f"{p}." for p in parts), "sparsity."))}
    for part, module in exported.items():
        new_state.update({f"{part}.{k}": v for k, v in module.state_dict().items()})
    smaller = build_model(new_config, task)
    smaller.load_state_dict(new_state)  # strict: every key of the smaller model, nothing else
    report: dict[str, Any] = {"parts": parts}
    for part, module in exported.items():
        original = getattr(masked, part)
        report.update({
            f"{part}_prunable_dense": original.dense_params(), f"{part}_prunable_kept": original.kept_params(),
            f"{part}_params_dense": _count(original) - _count(original.layer_masks),
            f"{part}_params_exported": _count(module), f"{part}_max_abs_diff": _output_diff(part, original, module),
            f"{part}_layer_sizes": module.pruned_conf()["layer_sizes"],
        })  # fmt: skip
    report.update(
        params_dense=_count(masked) - sum(_count(getattr(masked, p).layer_masks) for p in parts) - _count(masked.sparsity),
        params_exported=_count(smaller), max_abs_diff=max(report[f"{p}_max_abs_diff"] for p in parts),
    )
    return new_config, new_state, report
