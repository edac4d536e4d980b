"""The gated forward over one stock Transformer decoder layer: all kept is ESPnet's layer (teacher-forced
and step by step with its cache), a skipped module does not run and is the identity for its rows."""

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.espnet_compat import subsequent_mask
from espnet_dynprune.nets.layers.source_attention import project_source
from espnet_dynprune.nets.layers.transformer_dynprune_layer import (
    FFN,
    MODULE_TYPES,
    SRC_ATTN,
    decoder_module_types,
    gated_forward,
    unit_macs_per_step,
)
from tests.builders.tiny_nets import DECODER_CONF

GATES = (0, 1, 2)


def stock_layer() -> torch.nn.Module:
    torch.manual_seed(0)
    return TransformerDecoder(10, 32, **DECODER_CONF).decoders[0].eval()


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(2, 5, 32), subsequent_mask(5).unsqueeze(0).expand(2, 5, 5), torch.randn(2, 8, 32)


def decision(keep: dict[str, list[float]]) -> GateDecision:
    values = torch.tensor([keep.get(name, [1.0, 1.0]) for name in MODULE_TYPES]).T
    return GateDecision(values, list(MODULE_TYPES), skip_rows=True, num_frames=8)


def test_every_module_kept_is_the_stock_layer_teacher_forced_and_cached():
    layer = stock_layer()
    tgt, tgt_mask, memory = inputs()
    source = project_source(layer.src_attn, memory, None)
    with torch.no_grad():
        stock = layer(tgt, tgt_mask, memory, None)[0]
        gated = gated_forward(layer, tgt, tgt_mask, source, decision({}), GATES)
        cache = layer(tgt[:, :-1], tgt_mask[:, :-1, :-1], memory, None)[0]
        step = gated_forward(layer, tgt, tgt_mask, source, decision({}), GATES, cache=cache)
    assert torch.allclose(gated, stock, atol=1e-5)
    assert torch.allclose(step, stock, atol=1e-5)  # the cache plus the newest position


def test_a_skipped_module_does_not_run_and_is_the_identity():
    layer = stock_layer()
    tgt, tgt_mask, memory = inputs()
    rows: list[int] = []
    layer.feed_forward.register_forward_hook(lambda _m, args, _out: rows.append(args[0].size(0)))
    source = project_source(layer.src_attn, memory, None)
    with torch.no_grad():
        skipped = gated_forward(layer, tgt, tgt_mask, source, decision({FFN: [0.0, 1.0]}), GATES)
        without_ffn = gated_forward(layer, tgt, tgt_mask, source, decision({}), (0, 1, None))
        stock = layer(tgt, tgt_mask, memory, None)[0]
    assert rows[0] == 1
    assert torch.allclose(skipped[0], without_ffn[0], atol=1e-6)
    assert torch.allclose(skipped[1], stock[1], atol=1e-5)


def test_source_attention_of_skipping_rows_reads_no_source():
    layer = stock_layer()
    tgt, tgt_mask, memory = inputs()
    source = project_source(layer.src_attn, memory[1:], None)  # only the utterance that keeps it
    with torch.no_grad():
        out = gated_forward(layer, tgt, tgt_mask, source, decision({SRC_ATTN: [0.0, 1.0]}), GATES)
        stock = layer(tgt, tgt_mask, memory, None)[0]
    assert torch.allclose(out[1], stock[1], atol=1e-5)


def test_step_costs_count_the_modules_the_layer_has():
    layer = stock_layer()
    assert decoder_module_types(layer) == MODULE_TYPES
    short, long = unit_macs_per_step(layer, 4, 8), unit_macs_per_step(layer, 8, 8)
    assert short[FFN] == long[FFN] == 2 * 32 * 64
    assert long["self_attn"] > short["self_attn"]  # the prefix attended grows
    assert long[SRC_ATTN] < short[SRC_ATTN]  # the once-per-utterance projection spread over more steps
    layer.feed_forward = None
    assert FFN not in unit_macs_per_step(layer, 4, 8)
