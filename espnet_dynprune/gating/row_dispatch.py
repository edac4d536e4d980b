"""Run a gated module on the batch rows that keep it, and nowhere else.

Taking the union of the modules needed over a batch, or multiplying outputs by
zero, would throw the saving away; so each gated module gathers its kept rows,
runs on them, and scatters its contribution back (``index_add``). When every row
keeps the module it runs on the whole batch with no indexing at all.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch

from espnet_dynprune.gating.decision import RowSet


def take_rows(rows: RowSet, tensor: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if rows.everyone or tensor is None or tensor.size(0) == 1:
        return tensor  # (1, ...) tensors, e.g. positional embeddings, broadcast
    return tensor.index_select(0, rows.index)


def _scale_by_gate(out: torch.Tensor, value: Optional[torch.Tensor]) -> torch.Tensor:
    if value is None:
        return out
    return out * value.view(-1, *([1] * (out.dim() - 1)))


def _gate_value(rows: RowSet, value: torch.Tensor, always: bool) -> Optional[torch.Tensor]:
    """Gate values to multiply with, or None when the product is a forward no-op.

    Kept rows have value exactly 1.0; the product only matters to carry the
    straight-through gradient, or (``always``) to zero rows that ran anyway.
    """
    if not (always or value.requires_grad):
        return None
    return take_rows(rows, value)


def keepalive(x: torch.Tensor, owners: Iterable[torch.nn.Module]) -> torch.Tensor:
    """Tie skipped modules' parameters into the graph with a zero contribution.

    Under DDP every parameter must receive a gradient on every rank, or the
    reducer fails; a module that no row of the batch kept would otherwise have none.
    """
    params = [p for m in owners for p in m.parameters() if p.requires_grad]
    if not params or not torch.is_grad_enabled():
        return x
    return x + 0.0 * sum(p.sum() for p in params)


def gated_residual(
    x: torch.Tensor,
    rows: RowSet,
    value: torch.Tensor,
    fn: Callable[..., torch.Tensor],
    *args: Optional[torch.Tensor],
    scale: float = 1.0,
    zero_skipped: bool = False,
    owners: Iterable[torch.nn.Module] = (),
) -> torch.Tensor:
    """``x + scale * gate * fn(x, *args)``, computing ``fn`` only on ``rows``.

    Args:
        x: (B, ...) residual stream.
        rows: rows that run the module.
        value: (B,) keep values (0/1 forward; straight-through gradient in training).
        fn: the module, called on the selected rows of ``x`` and ``args``.
        scale: residual scale (0.5 for macaron feed-forward modules).
        zero_skipped: rows in ``rows`` may have gate 0 and must be zeroed
            (the straight-through training mode that runs every row).
        owners: modules behind ``fn``, kept in the autograd graph when no row runs.
    """
    if rows.nobody:
        return keepalive(x, owners) if x.requires_grad or value.requires_grad else x
    out = fn(take_rows(rows, x), *(take_rows(rows, a) for a in args))
    out = _scale_by_gate(out, _gate_value(rows, value, zero_skipped))
    if rows.everyone:
        return x + scale * out
    return x.index_add(0, rows.index, out, alpha=scale)


def gated_branch(
    x: torch.Tensor,
    rows: RowSet,
    value: torch.Tensor,
    fn: Callable[..., torch.Tensor],
    *args: Optional[torch.Tensor],
    zero_skipped: bool = False,
    owners: Iterable[torch.nn.Module] = (),
) -> torch.Tensor:
    """``gate * fn(x, *args)`` with zeros on rows that skip (no residual).

    Used for E-Branchformer's parallel branches, whose outputs meet in the merge.
    """
    if rows.nobody:
        zeros = x.new_zeros(x.shape)
        return keepalive(zeros, owners) if x.requires_grad else zeros
    out = fn(take_rows(rows, x), *(take_rows(rows, a) for a in args))
    out = _scale_by_gate(out, _gate_value(rows, value, zero_skipped))
    if rows.everyone:
        return out
    return out.new_zeros((x.size(0),) + out.shape[1:]).index_copy(0, rows.index, out)
