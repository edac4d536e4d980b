"""Tiny stock / prunable E-Branchformer encoders with the same weights, and mask settings."""

from __future__ import annotations

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.static.e_branchformer_prunable import EBranchformerPrunableEncoder
from tests.nets.tiny_nets import ENCODER_CONF

INPUT_SIZE = 20


def speech(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, 40, 20) features with lengths 40, 33, 25 (two padded utterances)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(3, 40, INPUT_SIZE, generator=gen), torch.tensor([40, 33, 25])


def conf(**extra) -> dict:
    return {**ENCODER_CONF, **extra}


def stock_and_prunable(extra: dict | None = None, **mask_kwargs):
    """(stock, prunable) encoders in eval, the prunable one holding the stock weights."""
    torch.manual_seed(0)
    stock = EBranchformerEncoder(INPUT_SIZE, **conf(**(extra or {}))).eval()
    prunable = EBranchformerPrunableEncoder(INPUT_SIZE, **mask_kwargs, **conf(**(extra or {}))).eval()
    prunable.load_state_dict(stock.state_dict(), strict=False)
    return stock, prunable


def set_all_log_alpha(encoder: EBranchformerPrunableEncoder, value: float) -> None:
    for layer_masks in encoder.layer_masks:
        for mask in layer_masks.masks.values():
            mask.set_log_alpha(value)


def randomize_masks(encoder: EBranchformerPrunableEncoder, seed: int, spread: float = 3.0) -> None:
    """Random log-alphas: some units removed, most of the kept ones at values inside (0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    for layer_masks in encoder.layer_masks:
        for mask in layer_masks.masks.values():
            mask.set_log_alpha(torch.randn(mask.num_units, generator=gen) * spread)
        for name in ("attn", "cgmlp", "ffn1", "ffn2"):  # whole modules kept, value in (0, 1)
            if name in layer_masks.masks:
                layer_masks.masks[name].set_log_alpha(1.5)  # value ~0.88


def prunable_params(layer: torch.nn.Module) -> int:
    """A layer's parameters less its final norm (which static pruning does not count)."""
    return sum(p.numel() for p in layer.parameters()) - sum(p.numel() for p in layer.norm_final.parameters())
