"""The gate decisions taken for one batch, and the rows each module must run on.

All gates of a network part are decided once per utterance, before its first
gated layer runs. The keep/skip pattern is copied to the host once here, so the
layers can pick the rows that keep a module without further device syncs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch


@dataclass(frozen=True)
class RowSet:
    """The batch rows that run one gated module.

    ``index`` is None when every row keeps the module (the common batch-of-one
    case runs without any indexing); otherwise it holds the kept rows' indices on
    the compute device (possibly empty).
    """

    keep: torch.Tensor  # (B,) bool, on the host
    index: Optional[torch.Tensor]

    @classmethod
    def from_mask(cls, keep: torch.Tensor, device: torch.device) -> "RowSet":
        if bool(keep.all()):
            return cls(keep, None)
        return cls(keep, keep.nonzero().squeeze(1).to(device))

    @property
    def everyone(self) -> bool:
        return self.index is None

    @property
    def nobody(self) -> bool:
        return self.index is not None and self.index.numel() == 0

    def union(self, other: "RowSet", device: torch.device) -> "RowSet":
        return RowSet.from_mask(self.keep | other.keep, device)

    def within(self, outer: "RowSet", device: torch.device) -> "RowSet":
        """This set expressed as positions inside the rows of ``outer``."""
        return RowSet.from_mask(self.keep[outer.keep], device)


class GateDecision:
    """Keep values for every gate of one network part, for one batch.

    Args:
        values: (B, G) keep values, exactly 0 or 1 in the forward pass; in
            training they carry the straight-through gradient.
        names: G gate names, e.g. ``"layer3.cgmlp"``.
        num_frames: length of the features the gates were decided from.
        skip_rows: True to run each module on its kept rows only. False is the
            training mode of the straight-through estimator: every module runs on
            every row and its output is multiplied by the hard gate, because the
            gradient reaching a skipped gate is <dL/dy, f(x)> and needs f(x).
        keep: (B, G) host copy of ``values > 0.5`` when the caller already has it.
    """

    def __init__(
        self,
        values: torch.Tensor,
        names: Sequence[str],
        skip_rows: bool,
        num_frames: int = 1,
        keep: Optional[torch.Tensor] = None,
    ) -> None:
        if values.dim() != 2 or values.size(1) != len(names):
            raise ValueError(
                f"gate values of shape {tuple(values.shape)} do not match {len(names)} gate names"
            )
        self.values = values
        self.names = tuple(names)
        self.skip_rows = skip_rows
        self.num_frames = num_frames
        if keep is None:
            keep = values.detach().to("cpu", copy=True) > 0.5  # the one host sync
        self.keep = keep
        self._rows: dict[int, RowSet] = {}

    @property
    def batch_size(self) -> int:
        return self.values.size(0)

    def rows(self, gate: int) -> RowSet:
        """Rows that run gate ``gate``'s module (all rows when not skipping rows)."""
        if gate not in self._rows:
            keep = self.keep[:, gate]
            if not self.skip_rows:
                keep = torch.ones_like(keep)
            self._rows[gate] = RowSet.from_mask(keep, self.values.device)
        return self._rows[gate]

    def repeat_rows(self, times: int) -> "GateDecision":
        """Each row repeated ``times`` times in place (beam hypotheses of one utterance).

        Uses the host copy of the pattern, so it costs no device sync.
        """
        if times == 1:
            return self
        return GateDecision(
            self.values.repeat_interleave(times, dim=0), self.names, self.skip_rows,
            self.num_frames, keep=self.keep.repeat_interleave(times, dim=0),
        )

    def row(self, index: int) -> "GateDecision":
        """Utterance ``index`` alone (its record after a batched decoding)."""
        return GateDecision(
            self.values[index:index + 1], self.names, self.skip_rows, self.num_frames,
            keep=self.keep[index:index + 1],
        )

    @classmethod
    def concat(cls, decisions: Sequence["GateDecision"]) -> "GateDecision":
        """The decisions of consecutive batches as one over all their rows, in order (a batch
        encoded in chunks, recorded as one call would have)."""
        first = decisions[0]
        for other in decisions[1:]:
            if (other.names, other.skip_rows, other.num_frames) != (first.names, first.skip_rows, first.num_frames):
                raise ValueError("gate decisions of different gates, row skipping or frame counts cannot be joined")
        return cls(torch.cat([d.values for d in decisions]), first.names, first.skip_rows, first.num_frames,
                   keep=torch.cat([d.keep for d in decisions]))

    def value(self, gate: int) -> torch.Tensor:
        """(B,) keep values of one gate."""
        return self.values[:, gate]

    def realised_sparsity(self) -> torch.Tensor:
        """Fraction of gated modules skipped, averaged over the batch (differentiable)."""
        return 1.0 - self.values.mean()

    def as_dict(self) -> dict[str, list[bool]]:
        """Per-gate keep flags for every utterance of the batch (for logs and heatmaps)."""
        return {name: self.keep[:, g].tolist() for g, name in enumerate(self.names)}
