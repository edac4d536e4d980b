"""What ESPnet's Transformer decoders return, for the decoders that run their own layer loop.

``forward`` (teacher forcing) and ``forward_one_step`` (beam search) have a fixed contract in
ESPnet (``BaseTransformerDecoder``): the final norm, then the output layer (log-softmax per step),
with the hidden states on request. The gated and the masked decoders both keep it from here.
"""

from __future__ import annotations

from typing import Any, List

import torch
from espnet2.asr.decoder.transformer_decoder import BaseTransformerDecoder


def teacher_forced_outputs(
    decoder: BaseTransformerDecoder, last: torch.Tensor, outputs: List[torch.Tensor], olens: torch.Tensor,
    return_hs: bool, return_all_hs: bool,
) -> tuple[Any, torch.Tensor]:  # fmt: skip
    """``forward``'s result from the last layer's output and every layer's."""
    x = hidden = decoder.after_norm(last)
    if decoder.output_layer is not None:
        x = decoder.output_layer(x)
    if return_hs:
        return (x, hidden), olens
    if return_all_hs:
        return (x, outputs), olens
    return x, olens


def step_outputs(
    decoder: BaseTransformerDecoder, newest: torch.Tensor, cache: List[torch.Tensor], return_hs: bool
) -> tuple[Any, List[torch.Tensor]]:
    """``forward_one_step``'s result from the last layer's output at the newest position."""
    y = hidden = decoder.after_norm(newest)
    if decoder.output_layer is not None:
        y = torch.log_softmax(decoder.output_layer(y), dim=-1)
    return ((y, hidden) if return_hs else y), cache
