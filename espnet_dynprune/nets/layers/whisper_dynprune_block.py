"""Gated forward passes over stock Whisper blocks (openai-whisper's ``ResidualAttentionBlock``).

Whisper's block is pre-norm with a residual around each of self-attention, (in the decoder)
cross-attention and the MLP, so a skipped module is the identity, as in OWSM's layers. Two things make beam
search cheap where ESPnet's Whisper decoder recomputes everything at every step:

- cross-attention keys and values are projected once per utterance (:func:`project_cross`) and the
  hypotheses of an utterance attend to them as extra query positions of one batch row;
- self-attention keeps each layer's keys and values of the earlier positions (a (R, L, 2D) tensor
  per layer, ``[keys | values]``), so a step projects only the newest token.

Only the block's own modules, Whisper's ``qkv_attention`` (decoder self-attention) and torch's
``scaled_dot_product_attention`` (cross-attention and encoder self-attention: the same
softmax(q k^T / sqrt(d)) v, without Whisper's re-scaling of all keys at every call) compute, so
the results are stock Whisper's up to float rounding.
"""

from __future__ import annotations

from typing import Optional

import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.gating.row_dispatch import gated_residual
from espnet_dynprune.nets.layers.source_attention import SourceKeysValues
from espnet_dynprune.nets.layers.transformer_dynprune_layer import FFN, SELF_ATTN, SRC_ATTN, Gates


def _heads(attn: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(U, L, D) -> (U, heads, L, D / heads), the layout ``scaled_dot_product_attention`` takes."""
    return x.view(x.size(0), x.size(1), attn.n_head, -1).transpose(1, 2)


def _attend(
    attn: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, shape: torch.Size
) -> torch.Tensor:
    """``attn``'s output projection of torch's attention over per-head (U, heads, L, D / heads) tensors,
    laid out as ``shape`` (the rows of the queries)."""
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    return attn.out(out.transpose(1, 2).reshape(shape))


def project_cross(block: torch.nn.Module, memory: torch.Tensor) -> SourceKeysValues:
    """Cross-attention keys and values of ``memory`` (U, T, D) for ``block``, (U, heads, T, D / heads)
    each, contiguous: every step then reads them as they lie.

    No mask: Whisper's cross-attention attends to every encoder frame, as in stock Whisper.
    """
    attn = block.cross_attn
    key, value = (_heads(attn, layer(memory)).contiguous() for layer in (attn.key, attn.value))
    return SourceKeysValues(key, value, None)


class _SelfAttention:
    """Self-attention of the rows that keep it; ``keys_values`` is their new (R', L, 2D) cache."""

    def __init__(self, block: torch.nn.Module, mask: torch.Tensor) -> None:
        self.block, self.mask = block, mask
        self.keys_values: Optional[torch.Tensor] = None

    def __call__(self, x: torch.Tensor, past: Optional[torch.Tensor]) -> torch.Tensor:
        attn = self.block.attn
        h = self.block.attn_ln(x)
        kv = torch.cat((attn.key(h), attn.value(h)), dim=-1)
        if past is not None:
            kv = torch.cat((past, kv), dim=1)
        self.keys_values = kv
        key, value = kv.chunk(2, dim=-1)
        # the newest position alone needs no causal mask; a whole prefix does
        out, _ = attn.qkv_attention(attn.query(h), key, value, None if past is not None else self.mask)
        return attn.out(out)


def _cross_attention(block: torch.nn.Module, source: Optional[SourceKeysValues]):
    def run(x: torch.Tensor) -> torch.Tensor:
        attn = block.cross_attn
        u = source.num_utterances  # rows of one utterance are contiguous: its queries share one batch row
        q = _heads(attn, attn.query(block.cross_attn_ln(x)).reshape(u, -1, x.size(-1)))
        # Whisper's qkv_attention scales and re-lays the (U, T, D) keys at every call; this reads them once
        return _attend(attn, q, source.key, source.value, x.shape)

    return run


def _mlp(block: torch.nn.Module):
    return lambda x: block.mlp(block.mlp_ln(x))


def _new_cache(run: _SelfAttention, decision: GateDecision, column: int, x: torch.Tensor, length: int) -> torch.Tensor:
    """The layer's (R, length, 2D) keys/values: the rows that skip self-attention hold zeros
    (their utterance skips it at every step, so nothing reads them)."""
    rows = decision.rows(column)
    if rows.everyone:
        return run.keys_values
    cache = x.new_zeros(x.size(0), length, 2 * x.size(-1))
    return cache if rows.nobody else cache.index_copy(0, rows.index, run.keys_values)


def gated_block(
    block: torch.nn.Module,
    x: torch.Tensor,
    mask: torch.Tensor,
    source: Optional[SourceKeysValues],
    decision: GateDecision,
    gates: Gates,
    past: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One Whisper decoder block with self-attention / cross-attention / MLP gated.

    Args:
        x: (R, L, D) block input: the whole prefix, or with ``past`` only the newest position.
        mask: Whisper's causal mask (additive, at least (L, L)).
        source: cross keys/values of the utterances whose rows keep cross-attention.
        decision: (R, G) gates of the rows.
        gates: gate columns of the three modules (all equal for a layer gate).
        past: (R, L - 1, 2D) this layer's self-attention keys/values of the earlier positions.
    Returns:
        The block output and the layer's keys/values including the new positions.
    """
    zero = not decision.skip_rows
    g_self, g_src, g_ffn = gates
    self_attention = _SelfAttention(block, mask)
    x = gated_residual(
        x, decision.rows(g_self), decision.value(g_self), self_attention, past,
        zero_skipped=zero, owners=(block.attn_ln, block.attn),
    )
    length = x.size(1) + (0 if past is None else past.size(1))
    cache = _new_cache(self_attention, decision, g_self, x, length)
    x = gated_residual(
        x, decision.rows(g_src), decision.value(g_src), _cross_attention(block, source),
        zero_skipped=zero, owners=(block.cross_attn_ln, block.cross_attn),
    )
    x = gated_residual(
        x, decision.rows(g_ffn), decision.value(g_ffn), _mlp(block),
        zero_skipped=zero, owners=(block.mlp_ln, block.mlp),
    )
    return x, cache


def _encoder_self_attention(block: torch.nn.Module):
    def run(x: torch.Tensor) -> torch.Tensor:
        attn = block.attn
        h = block.attn_ln(x)
        q, k, v = (_heads(attn, layer(h)) for layer in (attn.query, attn.key, attn.value))
        # no mask, as in Whisper's encoder; torch's kernel never holds the (T, T) scores Whisper's does
        return _attend(attn, q, k, v, x.shape)

    return run


def gated_encoder_block(
    block: torch.nn.Module, x: torch.Tensor, decision: GateDecision, gates: tuple[int, int]
) -> torch.Tensor:
    """One Whisper encoder block, (U, T, D) -> (U, T, D), with self-attention and MLP gated
    (``gates``: their columns, equal for a layer gate)."""
    zero = not decision.skip_rows
    g_self, g_ffn = gates
    x = gated_residual(
        x, decision.rows(g_self), decision.value(g_self), _encoder_self_attention(block),
        zero_skipped=zero, owners=(block.attn_ln, block.attn),
    )
    return gated_residual(
        x, decision.rows(g_ffn), decision.value(g_ffn), _mlp(block),
        zero_skipped=zero, owners=(block.mlp_ln, block.mlp),
    )


def encoder_unit_macs_per_frame(d: int, mlp: int, num_frames: int) -> dict[str, int]:
    """Multiply-accumulates of a Whisper encoder block's self-attention and MLP for one frame."""
    return {SELF_ATTN: 4 * d * d + 2 * num_frames * d, FFN: 2 * d * mlp}


def unit_macs_per_step(d: int, mlp: int, prefix_length: int, num_frames: int) -> dict[str, int]:
    """Multiply-accumulates of each gated module of a block of width ``d`` for one new token.

    Cross-attention's once-per-utterance key/value projection is spread over ``prefix_length`` steps.
    """
    return {
        SELF_ATTN: 4 * d * d + 2 * prefix_length * d,
        SRC_ATTN: 2 * d * d + 2 * num_frames * d + 2 * num_frames * d * d // prefix_length,
        FFN: 2 * d * mlp,
    }
