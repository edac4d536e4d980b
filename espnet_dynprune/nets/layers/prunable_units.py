"""The prunable units of static structured pruning (after Peng et al., arXiv 2306.01385).

Each unit of a stock ESPnet layer keeps in one class what pruning needs to know of it: its
hard-concrete mask groups, its parameter count, its forward under mask values and its export
into the smaller layer. A unit names the layer's attributes it reads and owns nothing: the layer
stays ESPnet's (its state-dict keys unchanged, so ``--init_param`` loads the unpruned model),
the masks belong to the layer's :class:`UnitMasks`, and the hard-concrete mask itself
(:class:`~espnet_dynprune.gating.hard_concrete.HardConcrete`) knows nothing of the model.

Units, with the ``prune_groups`` entries of their masks:

- :class:`FeedForward`: its intermediate units (``ffn_units``) and itself whole (``ffn``);
- :class:`Attention`: per head, each query/key and each value/output dimension (``attn_qk``,
  ``attn_vo``: finer than whole heads) and itself whole (``attn``);
- :class:`ConvGatingMLP`: the CSGU channels, each a value channel paired with its gate channel, which
  the CSGU multiplies channel by channel (``cgmlp_channels``), and itself whole (``cgmlp``);
- :class:`WhisperAttention`, :class:`WhisperMLP`: the same for openai-whisper's block (its
  ``MultiHeadAttention``, whose key projection has no bias, and its ``mlp``), exported into the
  same smaller modules.

A unit with nothing left is removed whole, its norm and biases included, in training as in export,
so the masked layer and the exported one compute the same function. Counts take floats (the
expected count, differentiable, from each mask's expected L0) as integers (the realised count of
the inference masks, exactly what the exported layer holds). Export folds the inference masks'
values (in (0, 1]) into the weight that follows them: query/key values into ``linear_q``,
value/output values into ``linear_out``'s columns, FFN unit values into ``w_2``'s columns, CSGU
channel values into ``channel_proj2``'s columns, the whole-unit value into its last weight and bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Collection, Optional, Sequence, Union

import torch

from espnet_dynprune.gating.hard_concrete import HardConcrete
from espnet_dynprune.nets.espnet_compat import LayerNorm, mask_padded_frames

Number = Union[int, float, torch.Tensor]
Values = dict[str, Optional[torch.Tensor]]
State = dict[str, torch.Tensor]
Kept = Callable[[str], torch.Tensor]  # a mask's name -> which of its units the inference masks keep


def check_groups(groups: Collection[str], valid: Sequence[str], where: str) -> None:
    unknown = sorted(set(groups) - set(valid))
    if unknown:
        raise ValueError(f"{where} prune_groups has unknown mask groups {unknown}; valid: {list(valid)}")


def kept_channel_norm(norm: LayerNorm, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``norm`` over the channels where ``keep`` is True only (the others come out 0)."""
    weight = keep.to(x.dtype)
    count = weight.sum().clamp(min=1.0)
    mean = (x * weight).sum(-1, keepdim=True) / count
    centred = (x - mean) * weight
    var = (centred * centred).sum(-1, keepdim=True) / count
    return (centred / torch.sqrt(var + norm.eps) * norm.weight + norm.bias) * weight


def kept_units(values: Optional[torch.Tensor], count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices of the kept units, their mask values); no mask: all units with value 1."""
    if values is None:
        return torch.arange(count), torch.ones(count)
    index = (values > 0).nonzero().squeeze(1)
    return index, values[index]


def copy_norm(state: State, prefix: str, norm: torch.nn.Module, index: Optional[torch.Tensor] = None) -> None:
    for name in ("weight", "bias"):
        value = getattr(norm, name)
        state[f"{prefix}.{name}"] = value if index is None else value[index]


@dataclass(frozen=True)
class Unit:
    """One prunable module of a layer: ``name`` prefixes its masks (``<name>_<group>``, and
    ``<name>`` for the whole module), ``norm`` is the layer's attribute of its pre-norm."""

    name: str
    norm: str
    kind: ClassVar[str]  # the whole module's prune group; its unit groups are ``<kind>_<group>``
    groups: ClassVar[tuple[str, ...]]  # the last one decides whether anything is left

    @property
    def masks(self) -> tuple[str, ...]:
        return tuple(f"{self.name}_{g}" for g in self.groups)

    def group_of(self, mask: str) -> str:
        """The ``prune_groups`` entry of one of this unit's masks (``ffn1_units`` -> ``ffn_units``)."""
        return self.kind + mask[len(self.name):]

    def module(self, layer: torch.nn.Module) -> Optional[torch.nn.Module]:
        return getattr(layer, self.name)

    def unit_counts(self, layer: torch.nn.Module) -> dict[str, int]:
        raise NotImplementedError

    def width(self, layer: torch.nn.Module) -> int:
        """The layer's model dimension (what its pre-norm normalises)."""
        return getattr(layer, self.norm).normalized_shape[0]

    def shape(self, layer: torch.nn.Module) -> tuple[int, ...]:
        """What :meth:`params` needs of the layer besides the kept units (the width first)."""
        return (self.width(layer),)

    def params(self, shape: tuple[int, ...], units: dict[str, Number]) -> Number:
        """Parameters of the module (its pre-norm included) with ``units`` kept."""
        raise NotImplementedError

    def sizes(self, shape: tuple[int, ...], kept: Kept, alive: bool) -> dict[str, Any]:
        """The exported layer's ``layer_sizes`` fields of this unit."""
        return {self.masks[0]: int(kept(self.masks[0]).sum()) if alive else 0}

    def scale(self, values: Values) -> Optional[torch.Tensor]:
        """Whole-module mask times "a unit of its last group is left" (0 when none is), or None.
        (An attention with no query/key dim left still averages its values; with no value dim, it is gone.)"""
        scale, last = values.get(self.name), values.get(self.masks[-1])
        if last is not None:
            alive = (last > 0).any().to(last.dtype)
            scale = alive if scale is None else scale * alive
        return scale

    def scaled(self, out: torch.Tensor, values: Values) -> torch.Tensor:
        scale = self.scale(values)
        return out if scale is None else out * scale

    def export(self, layer: torch.nn.Module, values: Values, whole: float) -> State:
        """The kept part of the module's state, mask values folded in (keys relative to the layer)."""
        raise NotImplementedError


@dataclass(frozen=True)
class FeedForward(Unit):
    """A pre-norm ``PositionwiseFeedForward`` at layer attribute ``attribute``."""

    attribute: str = "feed_forward"
    kind: ClassVar[str] = "ffn"
    groups: ClassVar[tuple[str, ...]] = ("units",)
    linears: ClassVar[tuple[str, str]] = ("w_1", "w_2")  # the module's attributes, in the exported one too

    def module(self, layer: torch.nn.Module) -> Optional[torch.nn.Module]:
        return getattr(layer, self.attribute)

    def unit_counts(self, layer: torch.nn.Module) -> dict[str, int]:
        return {self.masks[0]: getattr(self.module(layer), self.linears[0]).out_features}

    def params(self, shape: tuple[int, ...], units: dict[str, Number]) -> Number:
        (d,), n = shape, units[self.masks[0]]
        return 2 * d + n * (d + 1) + n * d + d  # norm, w_1, w_2

    def residual(self, layer: torch.nn.Module, x: torch.Tensor, values: Values, ff_scale: float = 1.0) -> torch.Tensor:
        """``x`` plus the module's output under ``values`` (ESPnet's pre-norm residual)."""
        ffn = self.module(layer)
        h = ffn.activation(ffn.w_1(getattr(layer, self.norm)(x)))
        if values.get(self.masks[0]) is not None:
            h = h * values[self.masks[0]]
        return x + ff_scale * layer.dropout(self.scaled(ffn.w_2(ffn.dropout(h)), values))

    def export(self, layer: torch.nn.Module, values: Values, whole: float) -> State:
        (first, second), state = self.linears, {}
        w_1, w_2 = (getattr(self.module(layer), name) for name in self.linears)
        index, kept = kept_units(values.get(self.masks[0]), w_1.out_features)
        copy_norm(state, self.norm, getattr(layer, self.norm))
        prefix = self.attribute
        state[f"{prefix}.{first}.weight"] = w_1.weight[index]
        state[f"{prefix}.{first}.bias"] = w_1.bias[index]
        state[f"{prefix}.{second}.weight"] = w_2.weight[:, index] * kept * whole
        state[f"{prefix}.{second}.bias"] = w_2.bias * whole
        return state


@dataclass(frozen=True)
class WhisperMLP(FeedForward):
    """openai-whisper's pre-norm ``mlp`` (``Linear``, ``GELU``, ``Linear``); its export is the same
    ``nn.Sequential``, smaller."""

    attribute: str = "mlp"
    linears: ClassVar[tuple[str, str]] = ("0", "2")

    def residual(self, layer: torch.nn.Module, x: torch.Tensor, values: Values) -> torch.Tensor:
        """``x`` plus the MLP's output under ``values`` (Whisper's block has no dropout)."""
        mlp = self.module(layer)
        h = mlp[1](mlp[0](getattr(layer, self.norm)(x)))
        if values.get(self.masks[0]) is not None:
            h = h * values[self.masks[0]]
        return x + self.scaled(mlp[2](h), values)


@dataclass(frozen=True)
class Attention(Unit):
    """A pre-norm ESPnet ``MultiHeadedAttention`` at layer attribute ``name`` (absolute positions).
    Exported into a :class:`~espnet_dynprune.nets.layers.pruned_attention.PrunedMultiHeadedAttention`."""

    kind: ClassVar[str] = "attn"
    groups: ClassVar[tuple[str, ...]] = ("qk", "vo")
    projections: ClassVar[tuple[str, ...]] = ("linear_q", "linear_k", "linear_v", "linear_out")
    key_bias: ClassVar[bool] = True

    def head_layout(self, attn: torch.nn.Module) -> tuple[int, int]:
        """(heads, dims per head)."""
        return attn.h, attn.d_k

    def projected(self, attn: torch.nn.Module) -> tuple[torch.nn.Linear, ...]:
        """The query, key, value and output projections."""
        return tuple(getattr(attn, name) for name in self.projections)

    def attend(
        self, attn: torch.nn.Module, v: torch.Tensor, scores: torch.Tensor, mask: Optional[torch.Tensor]
    ) -> torch.Tensor:  # fmt: skip
        """Softmax of the scores over ``v``, through the output projection."""
        return attn.forward_attention(v, scores, mask)

    def unit_counts(self, layer: torch.nn.Module) -> dict[str, int]:
        heads, head_dim = self.head_layout(self.module(layer))
        return {mask: heads * head_dim for mask in self.masks}

    def shape(self, layer: torch.nn.Module) -> tuple[int, ...]:
        return self.width(layer), *self.head_layout(self.module(layer))

    def params(self, shape: tuple[int, ...], units: dict[str, Number]) -> Number:
        d, (qk, vo) = shape[0], (units[mask] for mask in self.masks)
        return 2 * d + qk * (d + 1) + qk * (d + self.key_bias) + vo * (d + 1) + vo * d + d  # norm, q, k, v, out

    def sizes(self, shape: tuple[int, ...], kept: Kept, alive: bool) -> dict[str, Any]:
        """Per kept head (one with a value dim left), its query/key and value/output dims."""
        _, heads, head_dim = shape
        qk, vo = (kept(mask).view(heads, head_dim).sum(1).tolist() for mask in self.masks)
        left = [h for h in range(heads) if vo[h] > 0] if alive else []
        return {self.masks[0]: [int(qk[h]) for h in left], self.masks[1]: [int(vo[h]) for h in left]}

    def output(
        self, layer: torch.nn.Module, x: torch.Tensor, mask: Optional[torch.Tensor], values: Values,
        memory: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:  # fmt: skip
        """The module's output under ``values`` for the pre-norm of ``x`` (keys and values from
        ``memory`` when given: source attention); a query/key mask zeroes a dim's share of every
        score, a value/output mask the dim's value."""
        attn, h = self.module(layer), getattr(layer, self.norm)(x)
        (heads_n, head_dim), batch = self.head_layout(attn), h.size(0)
        linear_q, linear_k, linear_v, _ = self.projected(attn)

        def heads(y: torch.Tensor, units: Optional[torch.Tensor]) -> torch.Tensor:
            y = y.view(batch, -1, heads_n, head_dim)
            if units is not None:
                y = y * units.view(heads_n, head_dim)
            return y.transpose(1, 2)

        source = h if memory is None else memory
        q = heads(linear_q(h), values.get(self.masks[0]))
        k = heads(linear_k(source), None)
        v = heads(linear_v(source), values.get(self.masks[1]))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(head_dim)
        return self.scaled(self.attend(attn, v, scores, mask), values)

    def export(self, layer: torch.nn.Module, values: Values, whole: float) -> State:
        """Under ``PrunedMultiHeadedAttention``'s names (``linear_q``, ``linear_k``, ``linear_v``, ``linear_out``)."""
        attn, prefix, state = self.module(layer), self.name, {}
        heads, dk = self.head_layout(attn)
        linear_q, linear_k, linear_v, linear_out = self.projected(attn)
        qk_index, qk_kept = kept_units(values.get(self.masks[0]), heads * dk)
        vo_index, vo_kept = kept_units(values.get(self.masks[1]), heads * dk)
        heads_left = torch.tensor(sorted({int(i) // dk for i in vo_index}))
        in_left_head = torch.isin(qk_index // dk, heads_left)
        qk_index, qk_kept = qk_index[in_left_head], qk_kept[in_left_head]
        copy_norm(state, self.norm, getattr(layer, self.norm))
        state[f"{prefix}.linear_q.weight"] = linear_q.weight[qk_index] * qk_kept[:, None]
        state[f"{prefix}.linear_q.bias"] = linear_q.bias[qk_index] * qk_kept
        state[f"{prefix}.linear_k.weight"] = linear_k.weight[qk_index]
        if self.key_bias:
            state[f"{prefix}.linear_k.bias"] = linear_k.bias[qk_index]
        state[f"{prefix}.linear_v.weight"] = linear_v.weight[vo_index]
        state[f"{prefix}.linear_v.bias"] = linear_v.bias[vo_index]
        state[f"{prefix}.linear_out.weight"] = linear_out.weight[:, vo_index] * vo_kept * whole
        state[f"{prefix}.linear_out.bias"] = linear_out.bias * whole
        return state


@dataclass(frozen=True)
class WhisperAttention(Attention):
    """openai-whisper's pre-norm ``MultiHeadAttention`` (``query``, ``key`` without bias, ``value``,
    ``out``; its scale of (d / heads)^-1/4 on queries and keys is 1 / sqrt(d / heads) on the scores)."""

    projections: ClassVar[tuple[str, ...]] = ("query", "key", "value", "out")
    key_bias: ClassVar[bool] = False

    def head_layout(self, attn: torch.nn.Module) -> tuple[int, int]:
        return attn.n_head, attn.query.out_features // attn.n_head

    def attend(
        self, attn: torch.nn.Module, v: torch.Tensor, scores: torch.Tensor, mask: Optional[torch.Tensor]
    ) -> torch.Tensor:  # fmt: skip
        """As Whisper: an additive ``mask`` (causal, decoder) on the scores, softmax in float32."""
        if mask is not None:
            scores = scores + mask[: scores.size(-2), : scores.size(-1)]
        weights = torch.softmax(scores.float(), dim=-1).to(v.dtype)
        return attn.out((weights @ v).transpose(1, 2).flatten(start_dim=2))


@dataclass(frozen=True)
class ConvGatingMLP(Unit):
    """The pre-norm cgMLP branch of an E-Branchformer layer (``cgmlp``, its CSGU inside)."""

    kind: ClassVar[str] = "cgmlp"
    groups: ClassVar[tuple[str, ...]] = ("channels",)

    def unit_counts(self, layer: torch.nn.Module) -> dict[str, int]:
        return {self.masks[0]: self.module(layer).channel_proj2.in_features}

    def shape(self, layer: torch.nn.Module) -> tuple[int, ...]:
        return self.width(layer), self.module(layer).csgu.conv.kernel_size[0]

    def params(self, shape: tuple[int, ...], units: dict[str, Number]) -> Number:
        (d, kernel), c = shape, units[self.masks[0]]
        # norm, channel_proj1 (value and gate halves), CSGU norm, depthwise conv, channel_proj2
        return 2 * d + 2 * c * (d + 1) + 2 * c + c * (kernel + 1) + c * d + d

    def output(self, layer: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, values: Values) -> torch.Tensor:
        """The branch's output under ``values``: a channel mask scales the gated product of its pair;
        the gate half's LayerNorm normalises over the channels kept only, as the exported layer's will."""
        cgmlp, channels = self.module(layer), values.get(self.masks[0])
        csgu = cgmlp.csgu
        value, gate = cgmlp.channel_proj1(getattr(layer, self.norm)(x)).chunk(2, dim=-1)
        gate = csgu.norm(gate) if channels is None else kept_channel_norm(csgu.norm, gate, channels > 0)
        gate = csgu.act(csgu.conv(mask_padded_frames(gate.transpose(1, 2), mask)).transpose(1, 2))
        out = value * gate
        if channels is not None:
            out = out * channels
        return self.scaled(cgmlp.channel_proj2(csgu.dropout(out)), values)

    def export(self, layer: torch.nn.Module, values: Values, whole: float) -> State:
        cgmlp, state = self.module(layer), {}
        csgu, half = cgmlp.csgu, cgmlp.channel_proj2.in_features
        index, kept = kept_units(values.get(self.masks[0]), half)
        pairs = torch.cat([index, index + half])  # value channel j and its gate channel half + j
        copy_norm(state, self.norm, getattr(layer, self.norm))
        state[f"{self.name}.channel_proj1.0.weight"] = cgmlp.channel_proj1[0].weight[pairs]
        state[f"{self.name}.channel_proj1.0.bias"] = cgmlp.channel_proj1[0].bias[pairs]
        copy_norm(state, f"{self.name}.csgu.norm", csgu.norm, index)
        state[f"{self.name}.csgu.conv.weight"] = csgu.conv.weight[index]
        state[f"{self.name}.csgu.conv.bias"] = csgu.conv.bias[index]
        state[f"{self.name}.channel_proj2.weight"] = cgmlp.channel_proj2.weight[:, index] * kept * whole
        state[f"{self.name}.channel_proj2.bias"] = cgmlp.channel_proj2.bias * whole
        return state


class UnitMasks(torch.nn.Module):
    """The hard-concrete masks of one stock layer's units (the layer is read, never owned).

    Subclasses pass the layer's units (those it has) and may count and export what belongs to
    the layer rather than to a unit (:meth:`_rest_params`, :meth:`_rest_state`); ``sizes_class``
    is the record of what a layer kept, whose fields are the units' mask names.

    Args:
        layer: the stock layer (read for its shapes only).
        units: its prunable units.
        groups: which mask groups to learn; ``valid``, ``where``: for the error naming a wrong one.
        init_keep: initial keep probability of every unit.
        straight_through: whole-module masks pass their gradient straight through the clamp.
        lr_scale: how much faster than the weights the masks learn (see ``HardConcrete``).
    """

    sizes_class: type

    def __init__(
        self, layer: torch.nn.Module, units: Sequence[Unit], groups: Collection[str], valid: Sequence[str],
        where: str, init_keep: float, straight_through: bool, lr_scale: float,
    ) -> None:  # fmt: skip
        super().__init__()
        check_groups(groups, valid, where)
        self.unit_list = tuple(units)
        self.shapes = {unit.name: unit.shape(layer) for unit in units}
        self.d = self.shapes[units[0].name][0]
        # every attention of a layer has the same head layout (what benchmarks' preset masks score per head)
        self.heads, self.head_dim = next(self.shapes[u.name][1:] for u in units if isinstance(u, Attention))
        self.units: dict[str, int] = {}  # mask name -> number of units
        for unit in units:
            self.units.update(unit.unit_counts(layer))
        self.masks = torch.nn.ModuleDict()
        for unit in units:
            for name in unit.masks:
                if unit.group_of(name) in groups:
                    self.masks[name] = HardConcrete(self.units[name], init_keep, lr_scale=lr_scale)
        for unit in units:
            if unit.kind in groups:
                self.masks[unit.name] = HardConcrete(1, init_keep, straight_through=straight_through, lr_scale=lr_scale)

    @property
    def modules_present(self) -> list[str]:
        return [unit.name for unit in self.unit_list]

    @property
    def module_units(self) -> dict[str, tuple[str, ...]]:
        """Each unit's masks; the last one decides whether anything of the unit is left."""
        return {unit.name: unit.masks for unit in self.unit_list}

    def _count(self, units: dict[str, Number], alive: dict[str, Number]) -> Number:
        total = sum(alive[u.name] * u.params(self.shapes[u.name], units) for u in self.unit_list)
        return total + self._rest_params(alive)

    def _rest_params(self, alive: dict[str, Number]) -> Number:
        """Prunable parameters of the layer outside its units, given which units are alive."""
        return 0

    def values(self) -> Values:
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
    def sizes(self):
        """What the inference masks keep: the exported layer's sizes (a ``sizes_class``)."""
        keep = {name: (mask.eval_mask() > 0) for name, mask in self.masks.items()}

        def kept(name: str) -> torch.Tensor:
            return keep.get(name, torch.ones(self.units[name], dtype=torch.bool))

        entry = {}
        for unit in self.unit_list:
            alive = bool(keep.get(unit.name, torch.ones(1, dtype=torch.bool)).all())
            entry.update(unit.sizes(self.shapes[unit.name], kept, alive))
        return self.sizes_class(**entry)

    def sizes_params(self, sizes) -> int:
        """Prunable parameters of a layer of ``sizes`` (the realised count)."""
        units = {name: sum(n) if isinstance(n, list) else n for name, n in sizes.as_dict().items()}
        alive = {unit.name: int(units[unit.masks[-1]] > 0) for unit in self.unit_list}
        return int(self._count(units, alive))

    @torch.no_grad()
    def pruned_state(self, layer: torch.nn.Module):
        """The sizes the inference masks keep, and the smaller layer's state dict."""
        was_training = self.training
        values = self.eval().values()
        self.train(was_training)
        sizes = self.sizes()
        kept = sizes.as_dict()
        state: State = {}
        for unit in self.unit_list:
            if kept[unit.masks[-1]]:
                whole = values.get(unit.name)
                state.update(unit.export(layer, values, 1.0 if whole is None else float(whole)))
        self._rest_state(state, layer, sizes)
        return sizes, {k: v.detach().clone().contiguous() for k, v in state.items()}

    def _rest_state(self, state: State, layer: torch.nn.Module, sizes) -> None:
        """Add what the smaller layer keeps outside its units."""
