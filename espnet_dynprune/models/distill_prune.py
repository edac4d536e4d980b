"""Task-agnostic distillation-pruning as an ordinary ESPnet training (``model: distill_prune``).

The student is the model being trained: its encoder (``encoder: e_branchformer_prunable`` or
``whisper_prunable``), its decoder (``decoder: transformer_prunable``) or both run under masks,
initialised from the unpruned model by ``--init_param``. The teacher is the unpruned model,
frozen, loaded from ``teacher_init`` (the same pretrained file). The loss is

    layer-wise distillation (L1 + cosine) of each pruned part on its distilled layers
        (layer-normalised where they are a residual stream: Whisper's encoder, the decoder)
    + lambda1 (s - t) + lambda2 (s - t)^2        (s: expected sparsity, t: warmed-up target)
    + task_loss_weight * ESPnet's CTC + attention loss   (optional)

where s is the fraction of the pruned parts' prunable parameters removed, together. The encoder
is distilled with no labels at all. The decoder is distilled teacher-forced: both decoders read
the reference text as their input (ESPnet's own ``<sop> prev <sos> text`` prompt), the teacher's
over the teacher encoder's output, but no loss is taken on the text itself.

The S2T model (:class:`DistillPruneS2TModel`, ESPnet's ``ESPnetS2TModel``) and the ASR model
(:class:`DistillPruneASRModel`, ``ESPnetASRModel``: Whisper in ESPnet) share all of this
(:class:`DistillPrune`); they differ only in the inputs of ESPnet's own losses.

Resume, DDP, AMP and logging are ESPnet's. The teacher is not part of the model's state: it is
reloaded from ``teacher_init`` when training (re)starts, so checkpoints are the student's size and
an exported or decoded model never needs it. With ``task_loss_weight: 0`` whatever reads no
distilled layer takes no part and is frozen (DDP then sees no unused parameter): CTC; a part not
pruned; the encoder's final norm when the decoder is not pruned; the decoder's final norm and
output layer. The last layer of a pruned part must then be distilled (the layers above the last
distilled one would get no signal).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.s2t.espnet_model import ESPnetS2TModel
from espnet2.torch_utils.device_funcs import force_gatherable
from typeguard import typechecked

from espnet_dynprune.gating.lagrangian import LagrangianSparsity
from espnet_dynprune.models.distill_loss import layerwise_distill_loss
from espnet_dynprune.nets.checkpoint import load_pretrained, read_state
from espnet_dynprune.nets.layers.prunable_part import PrunablePart

#: ``model_conf`` keys of this model that ESPnet's S2T model does not have (the export drops them).
DISTILL_KEYS = (
    "teacher_init", "sparsity_target", "sparsity_warmup_steps", "sparsity_overshoot_tolerance",
    "lagrangian_lr_scale", "distill_layers", "decoder_distill_layers", "distill_cosine_weight", "task_loss_weight",
)  # fmt: skip
PARTS = ("encoder", "decoder")


def default_distill_layers(num_blocks: int) -> list[int]:
    """A third, two thirds and all of the way up (layers 4, 8, 12 of 12, as DPHuBERT)."""
    return sorted({max(1, round(num_blocks * k / 3)) for k in (1, 2, 3)})


def _checked_layers(given: Optional[Sequence[int]], num_blocks: int, key: str, part: str, label_free: bool) -> list[int]:
    layers = list(given) if given else default_distill_layers(num_blocks)
    bad = [n for n in layers if not 1 <= n <= num_blocks]
    if bad:
        raise ValueError(f"model_conf {key} {bad} are not {part} layers (1 ... {num_blocks})")
    if label_free and num_blocks not in layers:
        raise ValueError(f"model_conf {key} {layers} leave out the last layer ({num_blocks}): without a "
                         f"task loss, the layers above {max(layers)} would learn nothing but to be removed")
    return layers


def _final_norm(encoder: torch.nn.Module) -> torch.nn.Module:
    return encoder.encoders.ln_post if isinstance(encoder, OpenAIWhisperEncoder) else encoder.after_norm


def encoder_outputs(encoder: torch.nn.Module, feats: torch.Tensor, lengths: torch.Tensor):
    """(output, output lengths, each layer's output) of a stock encoder: ESPnet's ``return_all_hs``,
    or for Whisper's encoder, which has none, its blocks' outputs."""
    if not isinstance(encoder, OpenAIWhisperEncoder):
        (out, hidden), out_lengths, _ = encoder(feats, lengths, return_all_hs=True)
        return out, out_lengths, hidden
    hidden: list[torch.Tensor] = []
    blocks = encoder.encoders.blocks
    hooks = [block.register_forward_hook(lambda _m, _args, out: hidden.append(out)) for block in blocks]
    try:
        out, out_lengths, _ = encoder(feats, lengths)
    finally:
        for hook in hooks:
            hook.remove()
    return out, out_lengths, hidden


class DistillPrune:
    """An ESPnet model (S2T or ASR, the next class in the MRO) trained by distillation from its
    unpruned self, under a sparsity target.

    Args:
        teacher_init: the unpruned model's ``.pth`` (its ``encoder.*`` / ``decoder.*`` weights are
            the teacher; a dynprune model's gate predictors are ignored: the teacher runs dense).
        sparsity_target: fraction of the pruned parts' prunable parameters to remove, in [0, 1).
        sparsity_warmup_steps: updates over which the target rises linearly from 0.
        sparsity_overshoot_tolerance: how far past the target counts as overshooting (logged).
        lagrangian_lr_scale: how much faster than the weights lambda1, lambda2 learn.
        distill_layers: 1-based encoder layers whose outputs are distilled (default: a third,
            two thirds and all of the way up; without a task loss the last layer must be one).
        decoder_distill_layers: the same for the decoder's layers (when it is pruned).
        distill_cosine_weight: weight of the cosine distance next to the L1 distance.
        task_loss_weight: weight of ESPnet's CTC + attention loss (0: no loss on the labels).
        *args, **kwargs: the ESPnet model's (``ctc_weight``, ``lsm_weight``, ...).
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
        decoder_distill_layers: Optional[Sequence[int]] = None,
        distill_cosine_weight: float = 1.0,
        task_loss_weight: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pruned_parts = tuple(part for part in PARTS if isinstance(getattr(self, part), PrunablePart))
        if not self.pruned_parts:
            raise ValueError(
                f"model: distill_prune needs encoder: e_branchformer_prunable or whisper_prunable and/or decoder: "
                f"transformer_prunable, got {type(self.encoder).__name__} and {type(self.decoder).__name__}"
            )
        if not 0.0 <= sparsity_target < 1.0:
            raise ValueError(f"model_conf sparsity_target must be in [0, 1), got {sparsity_target!r}")
        if task_loss_weight < 0:
            raise ValueError(f"model_conf task_loss_weight must be >= 0, got {task_loss_weight!r}")
        if teacher_init and not Path(teacher_init).is_file():
            raise FileNotFoundError(f"model_conf teacher_init: {teacher_init} does not exist")
        label_free = task_loss_weight == 0
        given = {"encoder": ("distill_layers", distill_layers), "decoder": ("decoder_distill_layers", decoder_distill_layers)}
        self.layers_of: Dict[str, list[int]] = {}
        for part in self.pruned_parts:
            module = getattr(self, part)
            key, layers = given[part]
            self.layers_of[part] = _checked_layers(layers, len(module.layer_masks), key, part, label_free)
            module.keep_hidden = tuple(self.layers_of[part])
        self.teacher_init = teacher_init
        self.distill_cosine_weight, self.task_loss_weight = distill_cosine_weight, task_loss_weight
        self.sparsity = LagrangianSparsity(
            sparsity_target, sparsity_warmup_steps, sparsity_overshoot_tolerance, lagrangian_lr_scale
        )
        if label_free:
            for module in self._unused_without_labels():
                module.requires_grad_(False)
        self._teachers: Dict[str, torch.nn.Module] = {}  # a plain dict: not submodules, not saved

    def _unused_without_labels(self) -> list[torch.nn.Module]:
        """What no distilled layer reads when there is no task loss."""
        unused = [self.ctc] if self.ctc is not None else []  # ESPnet's ASR model has none at ctc_weight 0
        if "encoder" not in self.pruned_parts:
            unused.append(self.encoder)
        if "decoder" in self.pruned_parts:
            unused += [self.decoder.after_norm, *([self.decoder.output_layer] if self.decoder.output_layer else [])]
        else:
            unused += [self.decoder, _final_norm(self.encoder)]
        return unused

    def _teacher_module(self, part: str) -> torch.nn.Module:
        """An unpruned, unmasked module of ``part``'s architecture (its weights loaded after)."""
        module = getattr(self, part)
        return module.stock() if isinstance(module, PrunablePart) else copy.deepcopy(module)

    def teacher(self, part: str, device: torch.device) -> torch.nn.Module:
        """The frozen unpruned ``encoder`` / ``decoder``. On first use every part the distillation
        needs (the encoder, whose output the teacher decoder reads, and each pruned part) is loaded
        from one read of ``teacher_init``."""
        if not self._teachers:
            if not self.teacher_init:
                raise ValueError("model_conf teacher_init is empty: distillation needs the unpruned model's .pth")
            state = read_state(self.teacher_init)
            for name in dict.fromkeys(("encoder", *self.pruned_parts)):
                part_state = {k[len(name) + 1:]: v for k, v in state.items() if k.startswith(f"{name}.")}
                gates = [k for k in part_state if k.startswith("gate_predictor.")]
                if gates:
                    logging.info(f"teacher {self.teacher_init}: ignoring {len(gates)} {name} gate-predictor tensors "
                                 f"(runs dense)")
                teacher = self._teacher_module(name)
                load_pretrained(teacher, {k: v for k, v in part_state.items() if k not in gates})
                self._teachers[name] = teacher.eval().requires_grad_(False)
        return self._teachers[part].to(device)

    def expected_sparsity(self) -> torch.Tensor:
        """Expected fraction of the pruned parts' prunable parameters removed (differentiable)."""
        parts = [getattr(self, p) for p in self.pruned_parts]
        return 1.0 - torch.stack([p.expected_params() for p in parts]).sum() / sum(p.dense_params() for p in parts)

    def realised_sparsity(self) -> Dict[str, float]:
        """Fraction the inference masks remove now (what the export would remove): per pruned part,
        and of them all together (``"all"``)."""
        kept = {p: getattr(self, p).kept_params() for p in self.pruned_parts}
        dense = {p: getattr(self, p).dense_params() for p in self.pruned_parts}
        realised = {p: 1.0 - kept[p] / dense[p] for p in kept}
        realised["all"] = 1.0 - sum(kept.values()) / sum(dense.values())
        return realised

    def _distill_step(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, task_loss: Callable[[], tuple],
        decoder_input: Callable[[torch.Tensor, torch.Tensor], object],
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:  # fmt: skip
        """Distillation + Lagrangian (+ weighted task loss); the teacher reads the student's inputs.
        ``task_loss()`` is the ESPnet model's own forward; ``decoder_input(encoder_out, lengths)``
        runs the decoder on ESPnet's own decoder input (its loss is not used)."""
        seen = {}
        hooks = [self.encoder.register_forward_hook(lambda _m, args, out: seen.update(feats=args[:2], lengths=out[1]))]
        if "decoder" in self.pruned_parts:
            hooks.append(self.decoder.register_forward_hook(lambda _m, args, out: seen.update(tokens=args[2:4])))
        try:
            if self.task_loss_weight > 0:
                task, stats, _ = task_loss()
            else:
                encoder_out, encoder_out_lens = self.encode(speech, speech_lengths)
                if "decoder" in self.pruned_parts:
                    decoder_input(encoder_out, encoder_out_lens)
                task, stats = None, {}
        finally:
            for hook in hooks:
                hook.remove()
        losses = self._distill_losses(seen)
        distill = sum(losses.values())
        expected = self.expected_sparsity()
        step = self.sparsity.step
        lagrangian = self.sparsity(expected, step)
        loss = distill + lagrangian
        if task is not None:
            loss = loss + self.task_loss_weight * task
            stats["loss_task"] = task.detach()
        if self.training:
            self.sparsity.check_overshoot(float(expected.detach()), step)
        realised = self.realised_sparsity()
        stats.update(
            loss=loss.detach(), loss_distill=distill.detach(), loss_lagrangian=lagrangian.detach(),
            sparsity_expected=expected.detach(), sparsity_realised=torch.tensor(realised["all"]),
            sparsity_target=torch.tensor(self.sparsity.target_at(step)),
            lambda1=self.sparsity.lambda1.detach(), lambda2=self.sparsity.lambda2.detach(),
        )
        if len(self.pruned_parts) > 1:
            for part in self.pruned_parts:
                stats[f"loss_distill_{part}"] = losses[part].detach()
                stats[f"sparsity_realised_{part}"] = torch.tensor(realised[part])
        return force_gatherable((loss, stats, speech.size(0)), loss.device)

    def _distill_losses(self, seen: dict) -> Dict[str, torch.Tensor]:
        """Per pruned part, its distillation loss against the teacher run on the same inputs."""
        feats, feats_lengths = seen["feats"]
        device = feats.device
        with torch.no_grad():
            teacher = self.teacher("encoder", device)
            memory, memory_lengths, encoder_hidden = encoder_outputs(teacher, feats, feats_lengths)
        losses = {}
        if "encoder" in self.pruned_parts:
            layers = self.layers_of["encoder"]
            losses["encoder"] = layerwise_distill_loss(
                [self.encoder.hidden[n] for n in layers], [encoder_hidden[n - 1] for n in layers],
                seen["lengths"], self.distill_cosine_weight, normalize=self.encoder.residual_stream,
            )
        if "decoder" in self.pruned_parts:
            tokens, token_lengths = seen["tokens"]
            with torch.no_grad():
                (_, decoder_hidden), _ = self.teacher("decoder", device)(
                    memory, memory_lengths, tokens, token_lengths, return_all_hs=True
                )
            layers = self.layers_of["decoder"]
            losses["decoder"] = layerwise_distill_loss(
                [self.decoder.hidden[n] for n in layers], [decoder_hidden[n - 1] for n in layers],
                token_lengths, self.distill_cosine_weight, normalize=self.decoder.residual_stream,
            )
        return losses


class DistillPruneS2TModel(DistillPrune, ESPnetS2TModel):
    """``model: distill_prune`` of the S2T task (OWSM): :class:`DistillPrune` on ESPnet's S2T model."""

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
        labels = (text, text_lengths, text_prev, text_prev_lengths)
        return self._distill_step(
            speech, speech_lengths,
            lambda: ESPnetS2TModel.forward(self, speech, speech_lengths, *labels, text_ctc, text_ctc_lengths, **kwargs),
            lambda out, lengths: self._calc_att_loss(out, lengths, *labels),
        )  # fmt: skip


class DistillPruneASRModel(DistillPrune, ESPnetASRModel):
    """``model: distill_prune`` of the ASR task (Whisper in ESPnet): :class:`DistillPrune` on ESPnet's ASR model."""

    def forward(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor, text: torch.Tensor, text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:  # fmt: skip
        return self._distill_step(
            speech, speech_lengths,
            lambda: ESPnetASRModel.forward(self, speech, speech_lengths, text, text_lengths, **kwargs),
            lambda out, lengths: self._calc_att_loss(out, lengths, text, text_lengths),
        )  # fmt: skip
