"""Transformer decoder with hard-concrete masks: the decoder student of static structured pruning.

Registered as ``decoder: transformer_prunable``. Every ``decoder_conf`` key of ESPnet's
``transformer`` keeps its meaning and its state-dict keys (``--init_param`` loads the unpruned
model as is), plus ``layer_masks.*`` for the masks. :func:`export_decoder` turns it into the smaller
``decoder: transformer_pruned``. The embedding, the final norm and the output layer (the
vocabulary projection) are not pruned.

It is trained teacher-forced (``forward``). ESPnet's beam search can decode it too
(``forward_one_step``, so ``score`` / ``batch_score`` and ``Speech2Text``), to check a model
mid-training, but without a cache: every step recomputes the prefix under the masks. Decode the
exported model for speed.
"""

from __future__ import annotations

from functools import partial
from typing import List, Sequence, Tuple

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from typeguard import typechecked

from espnet_dynprune.nets.decoder.outputs import step_outputs, teacher_forced_outputs
from espnet_dynprune.nets.decoder.transformer_pruned import TransformerPrunedDecoder, check_prunable_decoder_conf
from espnet_dynprune.nets.encoder_steps import checkpointed
from espnet_dynprune.nets.espnet_compat import make_pad_mask, subsequent_mask
from espnet_dynprune.nets.layers.prunable_part import PrunablePart
from espnet_dynprune.nets.layers.transformer_prunable_layer import (
    DECODER_GROUPS,
    DecoderLayerMasks,
    masked_decoder_layer_forward,
)


class TransformerPrunableDecoder(TransformerDecoder, PrunablePart):
    """ESPnet's Transformer decoder whose layers run under learnable masks.

    Args:
        vocab_size, encoder_output_size: as ESPnet's ``transformer`` decoder.
        prune_groups: mask groups to learn: any of ``attn_qk``, ``attn_vo``, ``attn``,
            ``ffn_units``, ``ffn`` (default: all).
        mask_init_keep, mask_straight_through, mask_lr_scale: as for ``e_branchformer_prunable``.
        **kwargs: ESPnet's ``transformer`` decoder keys.
    """

    residual_stream = True

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        prune_groups: Sequence[str] = DECODER_GROUPS,
        mask_init_keep: float = 0.99,
        mask_straight_through: bool = True,
        mask_lr_scale: float = 100.0,
        **kwargs,
    ) -> None:
        check_prunable_decoder_conf(kwargs, "transformer_prunable")
        super().__init__(vocab_size, encoder_output_size, **kwargs)
        self.vocab_size, self.encoder_output_size, self.espnet_conf = vocab_size, encoder_output_size, dict(kwargs)
        self._init_masks([DecoderLayerMasks(layer, prune_groups, mask_init_keep, mask_straight_through, mask_lr_scale)
                          for layer in self.decoders])

    def stock(self) -> TransformerDecoder:
        return TransformerDecoder(self.vocab_size, self.encoder_output_size, **self.espnet_conf)

    def _layers(self, x: torch.Tensor, tgt_mask: torch.Tensor, memory: torch.Tensor, memory_mask) -> list[torch.Tensor]:
        """Each layer's output under its masks (those in ``keep_hidden`` also go to ``hidden``)."""
        self.hidden, outputs = {}, []
        for i, (layer, layer_masks) in enumerate(zip(self.decoders, self.layer_masks)):
            run = partial(masked_decoder_layer_forward, layer, values=layer_masks.values())
            x = checkpointed(self, i + 1, run, x, tgt_mask, memory, memory_mask)
            if i + 1 in self.keep_hidden:
                self.hidden[i + 1] = x
            outputs.append(x)
        return outputs

    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
        return_hs: bool = False,
        return_all_hs: bool = False,
    ):
        """As ESPnet's ``TransformerDecoder.forward`` (teacher forcing), each layer under its masks."""
        tgt_mask = (~make_pad_mask(ys_in_lens)[:, None, :]).to(ys_in_pad.device)
        tgt_mask = tgt_mask & subsequent_mask(tgt_mask.size(-1), device=tgt_mask.device).unsqueeze(0)
        memory_mask = (~make_pad_mask(hlens, maxlen=hs_pad.size(1)))[:, None, :].to(hs_pad.device)
        outputs = self._layers(self.embed(ys_in_pad), tgt_mask, hs_pad, memory_mask)
        return teacher_forced_outputs(self, outputs[-1], outputs, tgt_mask.sum(1), return_hs, return_all_hs)

    def forward_one_step(
        self,
        tgt: torch.Tensor,
        tgt_mask: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor = None,
        *,
        cache: List[torch.Tensor] = None,
        return_hs: bool = False,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """ESPnet's one-step API over the whole prefix (``cache`` is not read; the layers' outputs
        are returned as the new one, as ESPnet's states expect)."""
        outputs = self._layers(self.embed(tgt), tgt_mask, memory, memory_mask)
        return step_outputs(self, outputs[-1][:, -1], outputs, return_hs)


@torch.no_grad()
def export_decoder(decoder: TransformerPrunableDecoder) -> TransformerPrunedDecoder:
    """The smaller decoder computing what ``decoder`` computes in eval (its inference masks)."""
    if not isinstance(decoder, TransformerPrunableDecoder):
        raise TypeError(f"only a transformer_prunable decoder has masks to export, got {type(decoder).__name__}")
    return decoder._exported("decoders", lambda sizes: TransformerPrunedDecoder(
        decoder.vocab_size, decoder.encoder_output_size, layer_sizes=sizes, **decoder.espnet_conf))
