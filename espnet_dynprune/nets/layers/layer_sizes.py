"""What each layer of a statically pruned model kept: the ``layer_sizes`` entries of its config.

One record per layer type, read from YAML with checks that name the entry (``from_dict``):
:class:`LayerSizes` for an E-Branchformer encoder layer, :class:`DecoderLayerSizes` for a
Transformer decoder layer, :class:`WhisperBlockSizes` for a Whisper encoder block. Attention is described per kept head: ``*_qk`` query/key dims and
``*_vo`` value/output dims (a head with no value dim left is gone; an empty list, the whole
attention module); FFNs and the cgMLP by their intermediate units (0: the module is gone).

ESPnet loads model files with ``strict=False``; :func:`check_loaded_sizes` (a load pre-hook) makes
loading a pruned part's layers strict anyway: a key missing or extra, or a weight whose shape
disagrees with ``layer_sizes``, raises naming the key and the layer's entry.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Sequence, Type, TypeVar

import torch

from espnet_dynprune.nets.checkpoint import added_by_pruning

Sizes = TypeVar("Sizes", bound="_Sizes")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass
class _Sizes:
    """Shared reading and checking; subclasses list their attention modules in ``heads``."""

    heads = ()  # names of the attention modules, each with ``<name>_qk`` and ``<name>_vo``

    @classmethod
    def from_dict(cls: Type[Sizes], entry: Mapping[str, Any], where: str) -> Sizes:
        """Checked: unknown keys, wrong types and mismatched head lists raise naming ``where``."""
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a mapping of sizes, got {entry!r}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(entry) - set(names))
        if unknown:
            raise ValueError(f"{where} has unknown keys {unknown}; valid: {sorted(names)}")
        sizes = cls(**entry)
        head_keys = {f"{name}_{kind}" for name in cls.heads for kind in ("qk", "vo")}
        for key in names:
            value = getattr(sizes, key)
            if key in head_keys:
                if not isinstance(value, list) or not all(_is_count(n) for n in value):
                    raise ValueError(f"{where}.{key} must be a list of integers >= 0 (one per head), got {value!r}")
            elif not _is_count(value):
                raise ValueError(f"{where}.{key} must be an integer >= 0, got {value!r}")
        for name in cls.heads:
            qk, vo = getattr(sizes, f"{name}_qk"), getattr(sizes, f"{name}_vo")
            if len(qk) != len(vo) or 0 in vo:
                raise ValueError(f"{where}: {name}_qk and {name}_vo need one entry per kept head and every head "
                                 f"at least one value dim, got {qk} and {vo}")
        return sizes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LayerSizes(_Sizes):
    """One E-Branchformer layer (``encoder_conf: layer_sizes`` entries)."""

    heads = ("attn",)
    ffn1_units: int = 0
    attn_qk: list[int] = field(default_factory=list)
    attn_vo: list[int] = field(default_factory=list)
    cgmlp_channels: int = 0
    ffn2_units: int = 0

    @property
    def has_attention(self) -> bool:
        return bool(self.attn_vo)


@dataclass
class DecoderLayerSizes(_Sizes):
    """One Transformer decoder layer (``decoder_conf: layer_sizes`` entries)."""

    heads = ("self_attn", "src_attn")
    self_attn_qk: list[int] = field(default_factory=list)
    self_attn_vo: list[int] = field(default_factory=list)
    src_attn_qk: list[int] = field(default_factory=list)
    src_attn_vo: list[int] = field(default_factory=list)
    ffn_units: int = 0


@dataclass
class WhisperBlockSizes(_Sizes):
    """One Whisper encoder block (``encoder_conf: layer_sizes`` entries of ``whisper_pruned``)."""

    heads = ("attn",)
    attn_qk: list[int] = field(default_factory=list)
    attn_vo: list[int] = field(default_factory=list)
    mlp_units: int = 0


def check_supported(conf: Mapping[str, Any], supported: Mapping[str, tuple], espnet_class: type, part: str,
                    name: str) -> None:
    """Raise naming the ``<part>_conf`` key whose value (given, or ``espnet_class``'s default) the
    pruned layers of ``<part>: <name>`` do not implement (``supported``: key -> allowed values)."""
    defaults = inspect.signature(espnet_class.__init__).parameters
    for key, allowed in supported.items():
        value = conf.get(key, defaults[key].default)
        if value not in allowed:
            given = "" if key in conf else " (ESPnet's default: set it)"
            raise ValueError(f"{part}: {name} supports {part}_conf {key} in {list(allowed)}, got {value!r}{given}")


def read_layer_sizes(cls: Type[Sizes], entries: Sequence[Mapping[str, Any]], part: str, num_blocks: int) -> list[Sizes]:
    """The checked ``<part>_conf: layer_sizes`` entries, one per layer."""
    sizes = [cls.from_dict(entry, f"{part}_conf layer_sizes[{i}]") for i, entry in enumerate(entries)]
    if len(sizes) != num_blocks:
        raise ValueError(f"{part}_conf layer_sizes has {len(sizes)} entries but num_blocks is {num_blocks}")
    return sizes


def check_loaded_sizes(part: str, layers: str):
    """A ``_register_load_state_dict_pre_hook(..., with_module=True)`` hook for the pruned
    ``part`` (``encoder`` / ``decoder``) whose layers are ``module.<layers>``. Keys that pruning
    adds to a stock model (a gate predictor's) may be absent."""
    layer_key = re.compile(rf"^{re.escape(layers)}\.(\d+)\.")

    def hook(module: torch.nn.Module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors) -> None:
        own = {k: v.shape for k, v in module.state_dict().items()}
        given = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        problems = []
        for key in sorted(set(own) | set(given)):
            match = layer_key.match(key)
            where = f" ({part}_conf layer_sizes[{match.group(1)}])" if match else ""
            if key not in given and added_by_pruning(key):
                continue
            if key not in given:
                problems.append(f"  {prefix}{key}: missing from the weights{where}")
            elif key not in own:
                problems.append(f"  {prefix}{key}: in the weights but not in the model{where}")
            elif tuple(given[key].shape) != tuple(own[key]):
                problems.append(f"  {prefix}{key}: weights {tuple(given[key].shape)}, the config's sizes {tuple(own[key])}{where}")
        if problems:
            raise ValueError(f"the pruned {part}'s layer_sizes disagree with its weights:\n" + "\n".join(problems[:20])
                             + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""))

    return hook
