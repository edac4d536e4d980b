"""Whisper encoder with hard-concrete masks: the student of static structured pruning of Whisper.

Registered as ``encoder: whisper_prunable`` (ASR and S2T tasks). Every ``encoder_conf`` key of
ESPnet's ``whisper`` encoder keeps its meaning and its state-dict keys (the stock model's weights
load as they are; the masks start almost fully kept), plus ``layer_masks.*`` for the masks and the
mask keys of ``e_branchformer_prunable``. After distillation-pruning, :func:`export_encoder`
turns it into the smaller ``encoder: whisper_pruned``. The convolutions, the positional embedding
and the final norm are not pruned.

Mask values are drawn once per block per forward pass.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from typeguard import typechecked

from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder, blocks_run_by
from espnet_dynprune.nets.encoder.whisper_pruned import WhisperPrunedEncoder, whisper_dims_of
from espnet_dynprune.nets.layers.prunable_part import PrunablePart
from espnet_dynprune.nets.layers.whisper_prunable_block import (
    WHISPER_GROUPS,
    WhisperBlockMasks,
    masked_whisper_block_forward,
)


class WhisperPrunableEncoder(LocalWhisperEncoder, PrunablePart):
    """ESPnet's Whisper encoder whose blocks run under learnable masks.

    Args:
        input_size, dropout_rate, whisper_model, download_dir, use_specaug, specaug_conf,
        do_pad_trim: as ESPnet's ``whisper`` encoder.
        prune_groups: mask groups to learn: any of ``attn_qk``, ``attn_vo``, ``attn``,
            ``ffn_units``, ``ffn`` (default: all).
        mask_init_keep, mask_straight_through, mask_lr_scale: as for ``e_branchformer_prunable``.
    """

    residual_stream = True

    @typechecked
    def __init__(
        self,
        input_size: int = 1,
        dropout_rate: float = 0.0,
        whisper_model: str = "small",
        download_dir: Optional[str] = None,
        use_specaug: bool = False,
        specaug_conf: Optional[dict] = None,
        do_pad_trim: bool = False,
        prune_groups: Sequence[str] = WHISPER_GROUPS,
        mask_init_keep: float = 0.99,
        mask_straight_through: bool = True,
        mask_lr_scale: float = 100.0,
    ) -> None:
        conf = dict(input_size=input_size, dropout_rate=dropout_rate, whisper_model=whisper_model,
                    download_dir=download_dir, use_specaug=use_specaug, specaug_conf=specaug_conf,
                    do_pad_trim=do_pad_trim)
        super().__init__(**conf)
        self.input_size, self.espnet_conf = input_size, conf
        self._init_masks([WhisperBlockMasks(block, prune_groups, mask_init_keep, mask_straight_through, mask_lr_scale)
                          for block in self.encoders.blocks])

    def stock(self) -> LocalWhisperEncoder:
        return LocalWhisperEncoder(**self.espnet_conf)

    def whisper_encode(self, input: torch.Tensor, ilens: Optional[torch.Tensor] = None):
        """ESPnet's ``whisper_encode``, each block under its masks (those in ``keep_hidden`` also
        go to ``hidden``, for the layer-wise distillation)."""
        self.hidden = {}

        def run(i: int, block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
            x = masked_whisper_block_forward(block, x, self.layer_masks[i].values())
            if i + 1 in self.keep_hidden:
                self.hidden[i + 1] = x
            return x

        with blocks_run_by(self, run):
            return super().whisper_encode(input, ilens)


@torch.no_grad()
def export_encoder(encoder: WhisperPrunableEncoder) -> WhisperPrunedEncoder:
    """The smaller encoder computing what ``encoder`` computes in eval (its inference masks)."""
    if not isinstance(encoder, WhisperPrunableEncoder):
        raise TypeError(f"only a whisper_prunable encoder has masks to export, got {type(encoder).__name__}")
    dims = whisper_dims_of(encoder)
    return encoder._exported("encoders.blocks", lambda sizes: WhisperPrunedEncoder(
        **encoder.espnet_conf, whisper_dims=dims, layer_sizes=sizes))
