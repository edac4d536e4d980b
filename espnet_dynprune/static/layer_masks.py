"""The hard-concrete masks of one E-Branchformer layer, and what they leave of its parameters.

Mask groups (``encoder_conf: prune_groups``), after Peng et al. (arXiv 2306.01385):

- ``attn_qk`` / ``attn_vo``: per head, each query/key dimension and each value/output
  dimension, as two separate groups (finer than whole heads);
- ``ffn_units``: the intermediate units of FFN1 (macaron) and FFN2;
- ``cgmlp_channels``: the CSGU channels, each a value channel paired with its gate channel
  (the CSGU multiplies the two halves channel by channel, so they go together);
- ``attn``, ``ffn``, ``cgmlp``: whole modules (straight-through, so they keep learning).

A module whose every unit is removed is removed whole, its biases included, in training as in
export, so the masked model and the exported one compute the same function.

Each layer knows its own size: :func:`layer_params` counts the prunable parameters of a layer
with given kept units, for floats (the expected count, differentiable, from each mask's expected
L0) as for integers (the realised count of the inference masks, which is exactly what the
exported layer holds). The final norm of a layer is not prunable and not counted.
"""

from __future__ import annotations

from typing import Callable, Collection, Optional, Sequence, Union

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoderLayer

from espnet_dynprune.gating.hard_concrete import HardConcrete
from espnet_dynprune.nets.layer_sizes import LayerSizes

GROUPS = ("attn_qk", "attn_vo", "attn", "ffn_units", "ffn", "cgmlp_channels", "cgmlp")
Number = Union[int, float, torch.Tensor]


def check_groups(groups: Collection[str], valid: Sequence[str] = GROUPS, where: str = "encoder_conf") -> None:
    unknown = sorted(set(groups) - set(valid))
    if unknown:
        raise ValueError(f"{where} prune_groups has unknown mask groups {unknown}; valid: {list(valid)}")


def ffn_params(d: int, units: Number) -> Number:
    """A pre-norm FFN: norm, w_1, w_2."""
    return 2 * d + units * (d + 1) + units * d + d


def attention_params(d: int, qk: Number, vo: Number) -> Number:
    """A pre-norm attention module: norm, q, k, v, out."""
    return 2 * d + 2 * qk * (d + 1) + vo * (d + 1) + vo * d + d


def layer_params(
    d: int, cgmlp_kernel: int, merge_kernel: int, *, ffn1: tuple[Number, Number], attn: tuple[Number, Number, Number],
    cgmlp: tuple[Number, Number], ffn2: tuple[Number, Number],
) -> Number:
    """Prunable parameters of a layer. Each module is ``(kept units..., alive)``: ``ffn1``/``ffn2``
    ``(units, alive)``, ``attn`` ``(qk dims, vo dims, alive)``, ``cgmlp`` ``(channel pairs, alive)``;
    ``alive`` is 0/1, or the probability that the module is kept."""
    qk, vo, attn_alive = attn
    channels, cgmlp_alive = cgmlp
    gating = 2 * d + 2 * channels * (d + 1) + 2 * channels + channels * (cgmlp_kernel + 1) + channels * d + d
    branches = attn_alive + cgmlp_alive
    merge = branches * d * (merge_kernel + 1) + branches * d * d + d  # depthwise conv, projection
    return (ffn1[1] * ffn_params(d, ffn1[0]) + attn_alive * attention_params(d, qk, vo) + cgmlp_alive * gating
            + merge + ffn2[1] * ffn_params(d, ffn2[0]))


class UnitMasks(torch.nn.Module):
    """Hard-concrete masks over the unit groups and whole modules of one layer (which it does not own).

    Subclasses name the layer's units (``units``: name -> count) and modules (``modules_present``),
    map each to its ``prune_groups`` entry (``group_of``), count parameters (``_count``) and name
    the record of what a layer kept (``sizes_class``), whose fields are the unit names (an
    attention module's ``*_qk`` / ``*_vo`` as per-head lists).
    """

    units: dict[str, int]
    modules_present: list[str]
    #: each module's unit groups; the last one decides whether the module is left at all
    #: (an attention module with no value/output dim left is gone). Attention modules end in ``attn``.
    module_units: dict[str, tuple[str, ...]]
    sizes_class: type

    def _make_masks(self, groups: Collection[str], init_keep: float, straight_through: bool, lr_scale: float) -> None:
        self.masks = torch.nn.ModuleDict()
        for name, count in self.units.items():
            if self.group_of(name) in groups:
                self.masks[name] = HardConcrete(count, init_keep, lr_scale=lr_scale)
        for name in self.modules_present:
            if self.group_of(name) in groups:
                self.masks[name] = HardConcrete(1, init_keep, straight_through=straight_through, lr_scale=lr_scale)

    @staticmethod
    def group_of(name: str) -> str:
        raise NotImplementedError

    def _count(self, units: dict[str, Number], alive: dict[str, Number]) -> Number:
        raise NotImplementedError

    def values(self) -> dict[str, Optional[torch.Tensor]]:
        """Mask values by name (sampled in training, deterministic in eval); None = not masked."""
        return {name: (self.masks[name]() if name in self.masks else None)
                for name in (*self.units, *self.modules_present)}

    def dense_params(self) -> int:
        return int(self._count(dict(self.units), {name: 1 for name in self.modules_present}))

    def expected_params(self) -> torch.Tensor:
        """Expected prunable parameters under the masks' distribution (differentiable)."""
        units = {n: (self.masks[n].expected_l0() if n in self.masks else c) for n, c in self.units.items()}
        alive = {n: (self.masks[n].keep_probability()[0] if n in self.masks else 1.0) for n in self.modules_present}
        return torch.as_tensor(self._count(units, alive), dtype=torch.get_default_dtype())

    @torch.no_grad()
    def _keep(self) -> tuple[Callable[[str], torch.Tensor], Callable[[str], bool]]:
        """(kept units of a group, whether a module is kept) under the inference masks."""
        keep = {name: (mask.eval_mask() > 0) for name, mask in self.masks.items()}

        def kept(name: str) -> torch.Tensor:
            return keep.get(name, torch.ones(self.units[name], dtype=torch.bool))

        def module_kept(name: str) -> bool:
            return name in self.modules_present and bool(keep.get(name, torch.ones(1, dtype=torch.bool)).all())

        return kept, module_kept

    def _head_sizes(self, kept: Callable[[str], torch.Tensor], attention: str, alive: bool) -> tuple[list[int], list[int]]:
        """Per kept head (one with a value dim left), its query/key and value/output dims."""
        qk = kept(f"{attention}_qk").view(self.heads, self.head_dim).sum(1).tolist()
        vo = kept(f"{attention}_vo").view(self.heads, self.head_dim).sum(1).tolist()
        heads = [h for h in range(self.heads) if vo[h] > 0] if alive else []
        return [int(qk[h]) for h in heads], [int(vo[h]) for h in heads]

    @torch.no_grad()
    def sizes(self):
        """What the inference masks keep: the exported layer's sizes (a ``sizes_class``)."""
        kept, module_kept = self._keep()
        entry = {}
        for module, names in self.module_units.items():
            alive = module_kept(module)
            if module.endswith("attn"):
                entry[names[0]], entry[names[1]] = self._head_sizes(kept, module, alive)
            else:
                entry[names[0]] = int(kept(names[0]).sum()) if alive else 0
        return self.sizes_class(**entry)

    def sizes_params(self, sizes) -> int:
        """Prunable parameters of a layer of ``sizes`` (the realised count)."""
        units = {name: sum(n) if isinstance(n, list) else n for name, n in sizes.as_dict().items()}
        alive = {module: int(units[names[-1]] > 0) for module, names in self.module_units.items()
                 if module in self.modules_present}
        return int(self._count(units, alive))


class LayerMasks(UnitMasks):
    """Masks over one stock ``EBranchformerEncoderLayer`` (which it does not own).

    Args:
        layer: the layer whose units are masked (read for its shapes only).
        groups: which mask groups to learn (see the module docstring).
        init_keep: initial keep probability of every unit.
        straight_through: whole-module masks pass their gradient straight through the clamp.
        lr_scale: how much faster than the weights the masks learn (see ``HardConcrete``).
    """

    def __init__(
        self, layer: EBranchformerEncoderLayer, groups: Collection[str], init_keep: float,
        straight_through: bool, lr_scale: float,
    ) -> None:  # fmt: skip
        super().__init__()
        check_groups(groups)
        self.d = layer.size
        self.heads, self.head_dim = layer.attn.h, layer.attn.d_k
        self.cgmlp_kernel = layer.cgmlp.csgu.conv.kernel_size[0]
        self.merge_kernel = layer.depthwise_conv_fusion.kernel_size[0]
        self.units = {"attn_qk": self.heads * self.head_dim, "attn_vo": self.heads * self.head_dim,
                      "cgmlp_channels": layer.cgmlp.channel_proj2.in_features}
        self.modules_present = ["attn", "cgmlp"]
        for name, ffn in (("ffn1", layer.feed_forward_macaron), ("ffn2", layer.feed_forward)):
            if ffn is not None:
                self.units[f"{name}_units"] = ffn.w_1.out_features
                self.modules_present.append(name)
        self._make_masks(groups, init_keep, straight_through, lr_scale)

    module_units = {"ffn1": ("ffn1_units",), "attn": ("attn_qk", "attn_vo"), "cgmlp": ("cgmlp_channels",),
                    "ffn2": ("ffn2_units",)}
    sizes_class = LayerSizes

    @staticmethod
    def group_of(name: str) -> str:
        if name.startswith("ffn"):
            return "ffn_units" if name.endswith("_units") else "ffn"
        return name

    def _count(self, units: dict[str, Number], alive: dict[str, Number]) -> Number:
        def module(name: str, *sizes: str) -> tuple[Number, ...]:
            if name not in alive:
                return (*(0 for _ in sizes), 0)
            return (*(units[s] for s in sizes), alive[name])

        return layer_params(
            self.d, self.cgmlp_kernel, self.merge_kernel, ffn1=module("ffn1", "ffn1_units"),
            attn=module("attn", "attn_qk", "attn_vo"), cgmlp=module("cgmlp", "cgmlp_channels"),
            ffn2=module("ffn2", "ffn2_units"),
        )
