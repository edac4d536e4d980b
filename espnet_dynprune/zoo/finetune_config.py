"""Merge a released OWSM model's architecture with a small fine-tuning YAML.

Why: a fine-tuning run must rebuild the pretrained network exactly (front end, normaliser,
encoder, decoder, CTC, token list, preprocessor), or ``--init_param`` fails on shapes; what
changes per experiment is the optimisation and the pruning. So the user writes only that,
and this module takes the rest from the model-zoo directory's ``config.yaml``. Then run::

    python -m espnet2.bin.s2t_train --config <output> --init_param <model_file> ...

The fine-tuning YAML (one per experiment)::

    prune: both               # encoder | decoder | both (dynamic) | static | static_decoder |
                              # static_both | magnitude | none (plain fine-tuning)
    prune_conf:               # applied to every pruned part:
        sparsity_target: 0.5  #   gating keys of e_branchformer_dynprune /
        gate_predictor: context   # transformer_dynprune (context | speech | none),
        gate_granularity: module  # gate_hidden_size, gumbel_tau_start, ... and
        sparsity_loss_weight: 1.0 #   model keys of model: dynprune (go to model_conf)
    encoder_conf: {sparsity_target: 0.3}   # per-part overrides, win over prune_conf;
    decoder_conf: {dropout_rate: 0.1}      # any *_conf key is deep-merged into the
    model_conf: {ctc_weight: 0.3}          # pretrained one (specaug_conf, preprocessor_conf...)
    optim: adamw              # everything else is an ordinary s2t_train key:
    optim_conf: {lr: 1.0e-4}  # optimiser, scheduler, batches, epochs, ...
    max_epoch: 5

Pruning a part swaps its class: ``encoder: e_branchformer`` becomes ``e_branchformer_dynprune``,
``decoder: transformer`` becomes ``transformer_dynprune`` (another pretrained class is refused)
and the model becomes ``model: dynprune``; a part not pruned keeps its stock class. A statically
pruned model (``encoder: e_branchformer_pruned``, from ``espnet_dynprune.bin.export_pruned``)
keeps its ``layer_sizes`` when its encoder gets gates, and so does a pruned decoder
(``decoder: transformer_pruned``): static + dynamic pruning.

``prune: static`` sets up distillation-pruning of the encoder instead: ``encoder:
e_branchformer_prunable`` (mask keys such as ``prune_groups``, ``mask_lr_scale``) and ``model:
distill_prune`` (keys such as ``sparsity_target``, ``sparsity_warmup_steps``, ``distill_layers``,
``task_loss_weight``), whose teacher (``teacher_init``) is the pretrained model file itself.
``prune: static_decoder`` prunes the decoder (``decoder: transformer_prunable``,
``decoder_distill_layers``), ``static_both`` both parts under one target; the decoder has no
cgMLP, so with ``static_both`` give ``prune_groups`` per part (``encoder_conf`` / ``decoder_conf``). ``prune: magnitude`` keeps every class and makes the model ``model: magnitude_prune``
(unstructured global-magnitude pruning while fine-tuning, fixed mask or PARP: ``sparsity_target``,
``prune_parts``, ``reprune_interval``). The keys
that fix the weights' layout (:data:`FIXED_KEYS`) come from the pretrained model only. The
training-run keys of the pretrained config (data lists, output dir, optimiser...) are dropped.
The pretrained feature statistics (``normalize_conf.stats_file``) are kept, since the weights
were trained on them: do not pass a new ``--normalize_conf`` to s2t_train.
"""

from __future__ import annotations

import copy
import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import yaml

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
)
from espnet_dynprune.zoo.check_lengths import check_lengths
from espnet_dynprune.zoo.model_zoo import ModelZooDir

PathLike = Union[str, Path]
PRUNE_CHOICES = ("encoder", "decoder", "both", "static", "static_decoder", "static_both", "magnitude", "none")
# Pretrained-config keys that describe the network and its input; the rest is the old run.
INHERITED_KEYS = (
    "input_size", "frontend", "frontend_conf", "specaug", "specaug_conf", "normalize",
    "normalize_conf", "preencoder", "preencoder_conf", "encoder", "encoder_conf", "postencoder",
    "postencoder_conf", "decoder", "decoder_conf", "ctc_conf", "model", "model_conf",
    "preprocessor", "preprocessor_conf", "use_preprocessor", "token_type", "token_list",
    "bpemodel", "non_linguistic_symbols", "cleaner", "g2p",
)  # fmt: skip
# Keys the fine-tuning YAML may not set: they decide the weights' layout or the tokenizer.
FIXED_KEYS = (
    "input_size", "frontend", "normalize", "preencoder", "encoder", "postencoder", "decoder",
    "model", "preprocessor", "token_type", "token_list", "bpemodel", "non_linguistic_symbols",
    "cleaner", "g2p",
)  # fmt: skip
# (part, pretrained class required, class swapped in)
PARTS = (("encoder", "e_branchformer", ENCODER_NAME), ("decoder", "transformer", DECODER_NAME))
# (part, pretrained class required, class swapped in) of static pruning
STATIC_PARTS = (("encoder", "e_branchformer", PRUNABLE_ENCODER_NAME), ("decoder", "transformer", PRUNABLE_DECODER_NAME))
# Pretrained classes a part may have besides the stock one: a statically pruned part.
ALSO_ACCEPTED = {"encoder": (PRUNED_ENCODER_NAME,), "decoder": (PRUNED_DECODER_NAME,)}
PRUNED_NAMES = {"encoder": PRUNED_ENCODER_NAME, "decoder": PRUNED_DECODER_NAME}


def own_keys(cls: type, skip: tuple = ()) -> List[str]:
    """Keyword arguments ``cls.__init__`` adds on top of its ESPnet parent's."""
    params = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in params if p.name != "self" and p.name not in skip and p.kind not in kinds]


def gating_keys() -> Dict[str, List[str]]:
    """The pruning keys: ``{"encoder": [...], "decoder": [...], "model": [...]}``."""
    from espnet_dynprune.models.dynprune import DynPruneS2TModel
    from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
    from espnet_dynprune.nets.encoder.e_branchformer_dynprune import EBranchformerDynPruneEncoder

    return {
        "encoder": own_keys(EBranchformerDynPruneEncoder, ("input_size", "layer_sizes")),  # sizes: the model's
        "decoder": own_keys(TransformerDynPruneDecoder, ("vocab_size", "encoder_output_size", "layer_sizes")),
        "model": own_keys(DynPruneS2TModel),
    }


def static_keys() -> Dict[str, List[str]]:
    """The keys of ``prune: static*`` (``teacher_init`` is set to the pretrained model file)."""
    from espnet_dynprune.models.distill_prune import DistillPruneS2TModel
    from espnet_dynprune.nets.decoder.transformer_prunable import TransformerPrunableDecoder
    from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder

    return {
        "encoder": own_keys(EBranchformerPrunableEncoder, ("input_size",)),
        "decoder": own_keys(TransformerPrunableDecoder, ("vocab_size", "encoder_output_size")),
        "model": own_keys(DistillPruneS2TModel, ("teacher_init",)),
    }


def magnitude_keys() -> Dict[str, List[str]]:
    """The keys of ``prune: magnitude`` (all of the model's)."""
    from espnet_dynprune.models.magnitude_prune import MagnitudePruneS2TModel

    return {"encoder": [], "decoder": [], "model": own_keys(MagnitudePruneS2TModel)}


def _is_static(prune: str) -> bool:
    return prune.startswith("static")


def _keys_of(prune: str) -> Dict[str, List[str]]:
    if prune == "magnitude":
        return magnitude_keys()
    return static_keys() if _is_static(prune) else gating_keys()


def _pruned_parts(prune: str) -> tuple[str, ...]:
    both = ("encoder", "decoder")
    return {"both": both, "static": ("encoder",), "static_decoder": ("decoder",), "static_both": both,
            "magnitude": (), "none": ()}.get(prune, (prune,))


def deep_merge(base: Dict[str, Any], extra: Mapping[str, Any]) -> Dict[str, Any]:
    """Recursive update of ``base`` (extra wins); returns ``base``."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def strip_pruning(config: Mapping[str, Any]) -> Dict[str, Any]:
    """The stock ESPnet config of a dynprune one: ESPnet's class names, no pruning keys.

    The inverse of what ``prune:`` does, so a drop-in config and the released model it came
    from are one file (the benchmark builds both from ``conf/``). A gated part on statically
    pruned layers (``layer_sizes``) becomes ``e_branchformer_pruned`` / ``transformer_pruned``.
    """
    config = copy.deepcopy(dict(config))
    keys = gating_keys()
    for part, stock, name in (*PARTS, ("model", "espnet", MODEL_NAME)):
        if config.get(part) == name:
            conf = config.get(f"{part}_conf") or {}
            static = part in PRUNED_NAMES and conf.get("layer_sizes") is not None
            config[part] = PRUNED_NAMES[part] if static else stock
            config[f"{part}_conf"] = {k: v for k, v in conf.items() if k not in keys[part]}
    return config


def _s2t_train_keys() -> set:
    from espnet_dynprune.registration import register_s2t

    register_s2t()
    from espnet2.tasks.s2t import S2TTask

    return {action.dest for action in S2TTask.get_parser()._actions}


def _check_finetune(finetune: Mapping[str, Any], prune: str, prune_conf: Mapping[str, Any], where: str) -> None:
    """Refuse a bad ``prune``, unknown or fixed keys, and gating keys for a stock part."""
    if prune not in PRUNE_CHOICES:
        raise ValueError(f"prune: {prune!r} in {where} is not one of {', '.join(PRUNE_CHOICES)}")
    fixed = [k for k in FIXED_KEYS if k in finetune]
    if fixed:
        raise ValueError(
            f"{where} sets {', '.join(fixed)}, which must come from the pretrained model "
            "(use prune: to switch to the dynprune classes)"
        )
    for part in ("encoder", "decoder"):
        if "layer_sizes" in (finetune.get(f"{part}_conf") or {}):
            raise ValueError(f"{where} sets {part}_conf layer_sizes, which must come from the pretrained (exported) model")
    unknown = [k for k in finetune if k not in _s2t_train_keys()]
    if unknown:
        raise ValueError(f"{where}: unknown s2t_train keys {', '.join(unknown)}")
    if prune_conf and prune == "none":
        raise ValueError(f"{where} has prune_conf but prune: none")
    keys = _keys_of(prune)
    allowed = sorted(set().union(*keys.values()))
    bad = [k for k in prune_conf if k not in allowed]
    if bad:
        raise ValueError(f"prune_conf in {where}: unknown keys {', '.join(bad)}; valid for prune: {prune}: "
                         f"{', '.join(allowed)}")
    for part in ("encoder", "decoder", "model"):
        if part in _pruned_parts(prune) or (part == "model" and prune != "none"):
            continue
        stray = [k for k in finetune.get(f"{part}_conf") or {} if k in keys[part]]
        if stray:
            raise ValueError(
                f"{part}_conf in {where} sets {', '.join(stray)} but prune: {prune} keeps the stock {part}"
            )


def _swap(config: Dict[str, Any], part: str, stock: str, name: str, conf: Mapping[str, Any], prune: str,
          where: str, also_accepted: tuple[str, ...] = ()) -> None:
    """Replace ``config[part]`` (which must be ``stock`` or one of ``also_accepted``) by ``name``,
    adding ``conf``."""
    if config.get(part, "espnet" if part == "model" else None) not in (stock, *also_accepted):
        raise ValueError(
            f"prune: {prune} in {where} needs a pretrained {part}: {stock}, but the pretrained config has {part}: "
            f"{config.get(part)!r}"
        )
    config[part] = name
    config[f"{part}_conf"] = {**(config.get(f"{part}_conf") or {}), **conf}


def merge_finetune_config(
    pretrained: Mapping[str, Any], finetune: Mapping[str, Any], where: str = "the fine-tuning config",
    model_file: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """The s2t_train config: ``pretrained``'s network, ``finetune``'s training and pruning.

    ``where`` names the fine-tuning YAML in error messages; ``model_file`` (the pretrained
    weights) is the teacher of ``prune: static*``.
    """
    finetune = dict(finetune)
    prune = finetune.pop("prune", "none")
    prune_conf = dict(finetune.pop("prune_conf", None) or {})
    _check_finetune(finetune, prune, prune_conf, where)
    keys = _keys_of(prune)
    config = {k: copy.deepcopy(pretrained[k]) for k in INHERITED_KEYS if k in pretrained}

    def conf_of(part: str) -> Dict[str, Any]:
        return {k: v for k, v in prune_conf.items() if k in keys[part]}

    if _is_static(prune):
        if model_file is None:
            raise ValueError(f"prune: {prune} needs the pretrained model file (the distillation teacher)")
        for part, stock, name in STATIC_PARTS:  # an already pruned part is not pruned again
            if part in _pruned_parts(prune):
                _swap(config, part, stock, name, conf_of(part), prune, where)
        _swap(config, "model", "espnet", DISTILL_MODEL_NAME, {**conf_of("model"), "teacher_init": str(model_file)},
              prune, where)
        return deep_merge(config, finetune)
    if prune == "magnitude":
        _swap(config, "model", "espnet", MAGNITUDE_MODEL_NAME, conf_of("model"), prune, where)
        return deep_merge(config, finetune)
    for part, stock, name in PARTS:
        if part in _pruned_parts(prune):
            _swap(config, part, stock, name, conf_of(part), prune, where, ALSO_ACCEPTED.get(part, ()))
    if prune != "none":
        _swap(config, "model", "espnet", MODEL_NAME, conf_of("model"), prune, where)
    return deep_merge(config, finetune)


@dataclass(frozen=True)
class WeightCheck:
    """Parameter counts of the fine-tuning model after loading the pretrained weights."""

    total: int
    pretrained: int
    new: int
    new_keys: List[str]


def verify_weights(config_file: PathLike, zoo: ModelZooDir) -> WeightCheck:
    """Build the model from ``config_file`` as s2t_train does and load ``zoo``'s weights
    strictly (only the keys pruning adds may be absent). Raises naming any mismatch."""
    from espnet_dynprune.nets.checkpoint import load_pretrained
    from espnet_dynprune.registration import register_s2t

    register_s2t()
    from espnet2.tasks.s2t import S2TTask

    args = S2TTask.get_parser().parse_args(["--config", str(config_file)])
    model = S2TTask.build_model(args)
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
    try:
        new_keys = load_pretrained(model, zoo.state_dict(dtype=dtype))
    except (KeyError, ValueError) as error:
        raise ValueError(f"cannot load {zoo.model_file} into the model of {config_file}: {error}") from error
    params = dict(model.named_parameters())
    new = sum(params[k].numel() for k in new_keys if k in params)
    total = sum(p.numel() for p in params.values())
    return WeightCheck(total=total, pretrained=total - new, new=new, new_keys=new_keys)


def finetune_config(
    pretrained_model: PathLike, s2t_config: PathLike, output: PathLike, check_weights: bool = False,
    check_lengths_of: Sequence[PathLike] = (),
) -> Path:
    """Write the merged config of model-zoo dir ``pretrained_model`` and fine-tuning YAML
    ``s2t_config`` to ``output``; with ``check_weights``, also verify the weights load, and
    with ``check_lengths_of`` (dump dirs), that no utterance is longer than its speech_length.

    ``output`` appears only once everything passed (written beside it, then renamed), and a
    failure removes an older one: a later stage must never train with a config that failed.
    """
    output = Path(output)
    output.unlink(missing_ok=True)
    zoo = ModelZooDir.load(pretrained_model)
    s2t_config = Path(s2t_config)
    finetune = yaml.safe_load(s2t_config.read_text(encoding="utf-8")) or {}
    if not isinstance(finetune, dict):
        raise ValueError(f"{s2t_config} is not a YAML mapping")
    merged = merge_finetune_config(zoo.load_config(), finetune, where=str(s2t_config), model_file=zoo.model_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Generated by espnet_dynprune.zoo.finetune_config from\n#   pretrained: {zoo.config}\n"
        f"#   fine-tuning: {s2t_config.resolve()}\n# Train with --init_param {zoo.model_file}\n"
    )
    pending = output.with_name(output.name + ".pending")
    pending.write_text(header + yaml.safe_dump(merged, sort_keys=False, allow_unicode=True), encoding="utf-8")
    try:
        if check_lengths_of:
            check_lengths(pending, check_lengths_of)
        if check_weights:
            report = verify_weights(pending, zoo)
            logging.info(
                "%s loads %s strictly: %d parameters, %d pretrained, %d new (%d tensors pruning adds)",
                output, zoo.model_file, report.total, report.pretrained, report.new, len(report.new_keys),
            )
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    pending.replace(output)
    logging.info("wrote %s", output)
    return output
