"""Tiny stock / prunable E-Branchformer encoders with the same weights, mask settings, and tiny
dense / distill_prune S2T models built by ESPnet."""

from __future__ import annotations

from pathlib import Path

import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder
from tests.builders.tiny_nets import ENCODER_CONF
from tests.builders.tiny_s2t import build_model

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


ENCODER = {"num_blocks": 3, "attention_heads": 4}
DECODER = {"num_blocks": 1}


def build_s2t(model: str, encoder: str, model_conf: dict | None = None, encoder_conf: dict | None = None,
              decoder: str = "transformer", decoder_conf: dict | None = None):
    """A tiny S2T model (20-dim features, no front end, 3 encoder blocks) built by ESPnet's S2TTask."""
    torch.manual_seed(0)
    return build_model({**ENCODER, **(encoder_conf or {})}, {**DECODER, **(decoder_conf or {})}, model_conf,
                       decoder=decoder, model=model, encoder=encoder)


def dense_model_file(path: Path) -> Path:
    """A stock ESPnet S2T model's weights (the unpruned model, teacher and --init_param) at ``path``."""
    torch.save(build_s2t("espnet", "e_branchformer").state_dict(), path)
    return path


def student(teacher_file: Path, encoder: str = "e_branchformer_prunable", decoder: str = "transformer",
            decoder_conf: dict | None = None, **model_conf):
    """model: distill_prune initialised from ``teacher_file`` (as ``--init_param`` does)."""
    model = build_s2t("distill_prune", encoder, {"teacher_init": str(teacher_file), **model_conf},
                      decoder=decoder, decoder_conf=decoder_conf)
    dense = torch.load(teacher_file, weights_only=True)
    missing, unexpected = model.load_state_dict(dense, strict=False)  # what --init_param does
    assert not unexpected and all(".layer_masks." in f".{k}" or k.startswith("sparsity.") for k in missing)
    return model


VOCAB, DECODER_SIZE = 30, 32
DECODER_CONF = {"attention_heads": 4, "linear_units": 64, "num_blocks": 4, "dropout_rate": 0.0,
                "positional_dropout_rate": 0.0}


def decoder_inputs(seed: int = 2) -> tuple[torch.Tensor, ...]:
    """(memory (3, 12, 32), memory lengths, tokens (3, 7), token lengths), two of each padded."""
    gen = torch.Generator().manual_seed(seed)
    memory = torch.randn(3, 12, DECODER_SIZE, generator=gen)
    tokens = torch.randint(0, VOCAB, (3, 7), generator=gen)
    return memory, torch.tensor([12, 9, 5]), tokens, torch.tensor([7, 6, 3])


def randomize_decoder_masks(decoder, seed: int, spread: float = 3.0) -> None:
    """As :func:`randomize_masks`, for a prunable decoder."""
    gen = torch.Generator().manual_seed(seed)
    for layer_masks in decoder.layer_masks:
        for name, mask in layer_masks.masks.items():
            whole = name in ("self_attn", "src_attn", "ffn")
            mask.set_log_alpha(1.5 if whole else torch.randn(mask.num_units, generator=gen) * spread)
