"""Layer-wise distillation loss: how far the student's hidden layers are from the teacher's.

L1 distance plus cosine distance per frame, averaged over the frames that are not padding and
over the chosen layers (DPHuBERT / task-agnostic structured pruning use this pair: L1 keeps the
scale, cosine the direction). No labels are involved.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from espnet_dynprune.nets.espnet_compat import make_pad_mask


def layerwise_distill_loss(
    student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], lengths: torch.Tensor, cosine_weight: float = 1.0,
    normalize: bool = False,
) -> torch.Tensor:
    """Mean over layers of ``L1 + cosine_weight * (1 - cos)``, each a mean over valid frames.

    ``student[i]`` and ``teacher[i]`` are (B, T, D); ``lengths`` (B,) counts the valid frames.
    ``normalize`` compares the states after a layer norm without affine parameters: for the
    residual stream of a pre-norm Transformer (its decoder layers' outputs), whose scale grows
    with depth, where raw L1 would outweigh a part whose layers end in a norm (E-Branchformer's).
    """
    if len(student) != len(teacher) or not student:
        raise ValueError(f"need as many student as teacher layers (at least one), got {len(student)} and {len(teacher)}")
    valid = (~make_pad_mask(lengths, maxlen=student[0].size(1))).to(student[0].device, student[0].dtype)
    frames = valid.sum().clamp(min=1.0)
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher):
        if normalize:
            s, t = F.layer_norm(s, s.shape[-1:]), F.layer_norm(t, t.shape[-1:])
        l1 = ((s - t).abs().mean(-1) * valid).sum() / frames
        cosine = (F.cosine_similarity(s, t, dim=-1) * valid).sum() / frames
        total = total + l1 + cosine_weight * (1.0 - cosine)
    return total / len(student)
