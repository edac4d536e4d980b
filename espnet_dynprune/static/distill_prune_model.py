"""Task-agnostic distillation-pruning as an ordinary ESPnet S2T training (``model: distill_prune``).

The student is the model being trained (``encoder: e_branchformer_prunable``, initialised from
the unpruned model by ``--init_param``); the teacher is the unpruned encoder, frozen, loaded from
``teacher_init`` (the same pretrained file). The loss is

    layer-wise distillation (L1 + cosine on ``distill_layers``)
    + lambda1 (s - t) + lambda2 (s - t)^2        (s: expected sparsity, t: warmed-up target)
    + task_loss_weight * ESPnet's CTC + attention loss   (optional; 0 needs no labels)

Resume, DDP, AMP and logging are ESPnet's. The teacher is not part of the model's state: it is
reloaded from ``teacher_init`` when training (re)starts, so checkpoints are the student's size and
an exported or decoded model never needs it. With ``task_loss_weight: 0`` the decoder, CTC and the
encoder's final norm do not take part and are frozen (DDP then sees no unused parameter), and the
last layer must be distilled (the layers above the last distilled one would get no signal).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from espnet2.s2t.espnet_model import ESPnetS2TModel
from espnet2.torch_utils.device_funcs import force_gatherable
from typeguard import typechecked

from espnet_dynprune.gating.lagrangian import LagrangianSparsity
from espnet_dynprune.nets.checkpoint import check_readable, load_pretrained
from espnet_dynprune.static.distill_loss import layerwise_distill_loss
from espnet_dynprune.static.e_branchformer_prunable import EBranchformerPrunableEncoder

#: ``model_conf`` keys of this model that ESPnet's S2T model does not have (the export drops them).
DISTILL_KEYS = (
    "teacher_init", "sparsity_target", "sparsity_warmup_steps", "sparsity_overshoot_tolerance",
    "lagrangian_lr_scale", "distill_layers", "distill_cosine_weight", "task_loss_weight",
)  # fmt: skip


def default_distill_layers(num_blocks: int) -> list[int]:
    """A third, two thirds and all of the way up (layers 4, 8, 12 of 12, as DPHuBERT)."""
    return sorted({max(1, round(num_blocks * k / 3)) for k in (1, 2, 3)})


class DistillPruneS2TModel(ESPnetS2TModel):
    """ESPnet's S2T model trained by distillation from its unpruned self, under a sparsity target.

    Args:
        teacher_init: the unpruned model's ``.pth`` (its ``encoder.*`` weights are the teacher;
            a dynprune model's gate predictor is ignored: the teacher runs dense).
        sparsity_target: fraction of the encoder's prunable parameters to remove, in [0, 1).
        sparsity_warmup_steps: updates over which the target rises linearly from 0.
        sparsity_overshoot_tolerance: how far past the target counts as overshooting (logged).
        lagrangian_lr_scale: how much faster than the weights lambda1, lambda2 learn.
        distill_layers: 1-based encoder layers whose outputs are distilled (default: a third,
            two thirds and all of the way up; without a task loss the last layer must be one).
        distill_cosine_weight: weight of the cosine distance next to the L1 distance.
        task_loss_weight: weight of ESPnet's CTC + attention loss (0: label-free).
        *args, **kwargs: ``ESPnetS2TModel``'s (``ctc_weight``, ``lsm_weight``, ``sym_na``, ...).
    """

    @typechecked
    def __init__(
        self,
        *args,
        teacher_init: str = "",
        sparsity_target: float = 0.7,
        sparsity_warmup_steps: int = 0,
        sparsity_overshoot_tolerance: float = 0.05,
        lagrangian_lr_scale: float = 100.0,
        distill_layers: Optional[Sequence[int]] = None,
        distill_cosine_weight: float = 1.0,
        task_loss_weight: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.encoder, EBranchformerPrunableEncoder):
            raise ValueError(f"model: distill_prune needs encoder: e_branchformer_prunable, got {type(self.encoder).__name__}")
        if not 0.0 <= sparsity_target < 1.0:
            raise ValueError(f"model_conf sparsity_target must be in [0, 1), got {sparsity_target!r}")
        if task_loss_weight < 0:
            raise ValueError(f"model_conf task_loss_weight must be >= 0, got {task_loss_weight!r}")
        if teacher_init and not Path(teacher_init).is_file():
            raise FileNotFoundError(f"model_conf teacher_init: {teacher_init} does not exist")
        num_blocks = len(self.encoder.encoders)
        layers = list(distill_layers) if distill_layers else default_distill_layers(num_blocks)
        bad = [n for n in layers if not 1 <= n <= num_blocks]
        if bad:
            raise ValueError(f"model_conf distill_layers {bad} are not encoder layers (1 ... {num_blocks})")
        if task_loss_weight == 0 and num_blocks not in layers:
            raise ValueError(f"model_conf distill_layers {layers} leave out the last layer ({num_blocks}): without a "
                             f"task loss, the layers above {max(layers)} would learn nothing but to be removed")
        self.teacher_init, self.distill_layers = teacher_init, layers
        self.distill_cosine_weight, self.task_loss_weight = distill_cosine_weight, task_loss_weight
        self.encoder.keep_hidden = tuple(layers)
        self.sparsity = LagrangianSparsity(
            sparsity_target, sparsity_warmup_steps, sparsity_overshoot_tolerance, lagrangian_lr_scale
        )
        if task_loss_weight == 0:  # nothing reads the encoder's output but the decoder and CTC
            for module in (self.decoder, self.ctc, self.encoder.after_norm):
                module.requires_grad_(False)
        self._teacher: Tuple[EBranchformerEncoder, ...] = ()  # a tuple: not a submodule, not saved

    def teacher(self, device: torch.device) -> EBranchformerEncoder:
        """The frozen unpruned encoder (loaded from ``teacher_init`` on first use)."""
        if not self._teacher:
            if not self.teacher_init:
                raise ValueError("model_conf teacher_init is empty: distillation needs the unpruned model's .pth")
            state = torch.load(check_readable(self.teacher_init), map_location="cpu", weights_only=True)
            encoder_state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
            gates = [k for k in encoder_state if k.startswith("gate_predictor.")]
            if gates:
                logging.info(f"teacher {self.teacher_init}: ignoring {len(gates)} gate-predictor tensors (runs dense)")
            teacher = EBranchformerEncoder(self.encoder.input_size, **self.encoder.espnet_conf)
            load_pretrained(teacher, {k: v for k, v in encoder_state.items() if k not in gates})
            self._teacher = (teacher.eval().requires_grad_(False),)
        return self._teacher[0].to(device)

    def expected_sparsity(self) -> torch.Tensor:
        """Expected fraction of prunable parameters removed (differentiable)."""
        return 1.0 - self.encoder.expected_params() / self.encoder.dense_params()

    def realised_sparsity(self) -> float:
        """Fraction the inference masks remove now (what the export would remove)."""
        return 1.0 - self.encoder.kept_params() / self.encoder.dense_params()

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        text_prev: torch.Tensor,
        text_prev_lengths: torch.Tensor,
        text_ctc: torch.Tensor,
        text_ctc_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """Distillation + Lagrangian (+ weighted task loss); the student's features feed the teacher."""
        seen = {}
        handle = self.encoder.register_forward_hook(lambda _m, args, out: seen.update(feats=args, lengths=out[1]))
        try:
            if self.task_loss_weight > 0:
                task_loss, stats, _ = super().forward(
                    speech, speech_lengths, text, text_lengths, text_prev, text_prev_lengths,
                    text_ctc, text_ctc_lengths, **kwargs,
                )
            else:
                self.encode(speech, speech_lengths)
                task_loss, stats = None, {}
        finally:
            handle.remove()
        feats, feats_lengths = seen["feats"][:2]
        with torch.no_grad():
            (_, teacher_hidden), _, _ = self.teacher(feats.device)(feats, feats_lengths, return_all_hs=True)
        distill = layerwise_distill_loss(
            [self.encoder.hidden[n] for n in self.distill_layers], [teacher_hidden[n - 1] for n in self.distill_layers],
            seen["lengths"], self.distill_cosine_weight,
        )
        expected = self.expected_sparsity()
        step = self.sparsity.step
        lagrangian = self.sparsity(expected, step)
        loss = distill + lagrangian
        if task_loss is not None:
            loss = loss + self.task_loss_weight * task_loss
        realised = self.realised_sparsity()
        if self.training:
            self.sparsity.check_overshoot(float(expected.detach()), step)
        if task_loss is not None:
            stats["loss_task"] = task_loss.detach()
        stats.update(
            loss=loss.detach(), loss_distill=distill.detach(), loss_lagrangian=lagrangian.detach(),
            sparsity_expected=expected.detach(), sparsity_realised=torch.tensor(realised),
            sparsity_target=torch.tensor(self.sparsity.target_at(step)),
            lambda1=self.sparsity.lambda1.detach(), lambda2=self.sparsity.lambda2.detach(),
        )
        return force_gatherable((loss, stats, speech.size(0)), loss.device)
