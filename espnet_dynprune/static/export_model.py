"""A distillation-pruned S2T model (config + weights) as the smaller model it stands for.

The config keeps every key of the training run's but the encoder (``e_branchformer_prunable``
becomes ``e_branchformer_pruned`` with the per-layer ``layer_sizes``) and the model
(``distill_prune`` becomes ESPnet's own ``espnet``, without the distillation keys), so stock
ESPnet code (``Speech2Text``, ``s2t_train --init_param``) builds and loads it through the
plugin's registration. The weights are the student's with the encoder replaced and the masks
and Lagrangian multipliers gone.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any, Mapping

import torch

from espnet_dynprune.nets.checkpoint import load_pretrained
from espnet_dynprune.static.distill_prune_model import DISTILL_KEYS
from espnet_dynprune.static.export import export_encoder

PRUNABLE, PRUNED, STOCK_MODEL = "e_branchformer_prunable", "e_branchformer_pruned", "espnet"
#: encoder_conf keys of the prunable encoder that are about the masks, not the network.
MASK_KEYS = ("prune_groups", "mask_init_keep", "mask_straight_through", "mask_lr_scale")


def build_s2t_model(config: Mapping[str, Any]) -> torch.nn.Module:
    """ESPnet's ``S2TTask.build_model`` on the ``config.yaml`` of an s2t_train run, read as
    ``S2TTask.build_model_from_file`` reads it (every argument is in the file). The plugin's class
    names must be registered (the import hook does it; ``espnet_dynprune.registration``)."""
    from espnet2.tasks.s2t import S2TTask

    return S2TTask.build_model(argparse.Namespace(**config))


def load_masked_model(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], where: str) -> torch.nn.Module:
    """The trained ``model: distill_prune`` in eval (no teacher needed), loaded strictly."""
    if config.get("encoder") != PRUNABLE:
        raise ValueError(f"{where} has no masks to export: encoder is {config.get('encoder')!r}, not {PRUNABLE}")
    config = copy.deepcopy(dict(config))
    config.setdefault("model_conf", {})["teacher_init"] = ""
    model = build_s2t_model(config)
    untrained = [k for k in load_pretrained(model, state) if ".layer_masks." in f".{k}"]
    if untrained:
        raise ValueError(f"the weights for {where} have no masks ({untrained[0]}, ...): "
                         f"export a model trained with model: distill_prune")
    return model.eval()


def exported_config(config: Mapping[str, Any], layer_sizes: list[dict]) -> dict[str, Any]:
    """The training config with the smaller encoder and ESPnet's model class."""
    out = copy.deepcopy(dict(config))
    out["encoder"] = PRUNED
    encoder_conf = {k: v for k, v in (out.get("encoder_conf") or {}).items() if k not in MASK_KEYS}
    out["encoder_conf"] = {**encoder_conf, "layer_sizes": layer_sizes}
    out["model"] = STOCK_MODEL
    out["model_conf"] = {k: v for k, v in (out.get("model_conf") or {}).items() if k not in DISTILL_KEYS}
    return out


@torch.no_grad()
def export_model(config: Mapping[str, Any], state: Mapping[str, torch.Tensor], where: str) -> tuple[dict, dict, dict]:
    """(config, state dict, report) of the smaller model; the report compares sizes and checks
    that the two encoders agree on a random input (max abs diff; float32, eval)."""
    masked = load_masked_model(config, state, where)
    encoder = export_encoder(masked.encoder).eval()
    layer_sizes = [s.as_dict() for s in encoder.layer_sizes]
    new_config = exported_config(config, layer_sizes)
    skip = ("encoder.", "sparsity.")
    new_state = {k: v for k, v in masked.state_dict().items() if not k.startswith(skip)}
    new_state.update({f"encoder.{k}": v for k, v in encoder.state_dict().items()})
    smaller = build_s2t_model(new_config)
    smaller.load_state_dict(new_state)  # strict: every key of the smaller model, nothing else
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 200, masked.encoder.input_size, generator=generator)
    lengths = torch.tensor([200, 150])
    diff = (masked.encoder(feats, lengths)[0] - encoder(feats, lengths)[0]).abs().max().item()

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    report = {
        "params_dense": count(masked) - count(masked.encoder.layer_masks) - count(masked.sparsity),
        "params_exported": count(smaller),
        "encoder_prunable_dense": masked.encoder.dense_params(),
        "encoder_prunable_kept": masked.encoder.kept_params(),
        "encoder_params_dense": count(masked.encoder) - count(masked.encoder.layer_masks),
        "encoder_params_exported": count(encoder),
        "max_abs_diff": diff,
        "layer_sizes": layer_sizes,
    }
    return new_config, new_state, report

