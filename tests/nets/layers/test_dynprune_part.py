"""DynPrunePart: gate names and indices per granularity, the forcing API, the encoder's context and sparsity stats."""

from __future__ import annotations

import pytest
import torch

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.nets.layers.dynprune_part import DynPrunePart
from tests.builders.tiny_nets import encoder_pair
from tests.builders.tiny_static import speech

COSTS = {"attn": 1.0, "ffn": 3.0}  # MACs of each module of the stand-in, whichever layer


class Part(torch.nn.Module, DynPrunePart):
    """A two-layer part gating ``attn`` and ``ffn``; each gate is one unit of work at its module's cost."""

    module_types = ("attn", "ffn")

    def __init__(self, granularity: str = "module", layer_modules=None, predictor: str = "context",
                 sparsity_target: float = 0.5) -> None:
        super().__init__()
        self.layer_modules = layer_modules
        self._init_gating(8, 2, sparsity_target, predictor, granularity, 4, 2, 1.0, 0.1, 10, False, 0.0)

    def unit_costs(self, decision: GateDecision, num_frames: int):
        if self.gate_granularity == "layer":
            costs = [sum(COSTS[m] for m in modules) for modules in self.layer_modules]
        else:
            costs = [COSTS[name.split(".")[1]] for name in decision.names]
        return 1.0 - decision.values.double(), torch.tensor(costs, dtype=torch.float64) * num_frames


def decision(part: Part, keep) -> GateDecision:
    return GateDecision(torch.tensor(keep, dtype=torch.float32), part.gate_names, skip_rows=True, num_frames=5)


def test_a_gate_per_module_of_each_layer_or_one_per_layer():
    part = Part()
    assert part.gate_names == ("layer0.attn", "layer0.ffn", "layer1.attn", "layer1.ffn")
    assert [part.gate_index(1, "attn"), part.gate_index(1, "ffn"), part.gate_index(0, "ffn")] == [2, 3, 1]
    layers = Part("layer")
    assert layers.gate_names == ("layer0", "layer1")
    assert [layers.gate_index(1, "attn"), layers.gate_index(1, "ffn"), layers.gate_index(0, "ffn")] == [1, 1, 0]
    assert part.num_gated_layers == layers.num_gated_layers == 2


def test_layers_that_differ_gate_only_the_modules_each_has():
    part = Part(layer_modules=(("attn", "ffn"), ("ffn",)))
    assert part.gate_names == ("layer0.attn", "layer0.ffn", "layer1.ffn")
    assert part.gate_index(1, "ffn") == 2
    with pytest.raises(KeyError):
        part.gate_index(1, "attn")
    assert Part().layer_modules == (("attn", "ffn"), ("attn", "ffn"))  # by default every layer has every module


@pytest.mark.parametrize("options, error, message", [
    ({"granularity": "head"}, ValueError, r"gate_granularity 'head' is not one of \('module', 'layer'\)"),
    ({"sparsity_target": 1.0}, ValueError, r"sparsity_target must be in \[0, 1\), got 1.0"),
    ({"predictor": "oracle"}, ValueError, "gate_predictor 'oracle' is not one of"),
])
def test_bad_options_are_refused_naming_them(options, error, message):
    with pytest.raises(error, match=message):
        Part(**options)


def test_pruned_only_with_a_predictor_and_the_target_is_kept():
    assert Part().is_pruned and not Part(predictor="none").is_pruned
    assert Part(sparsity_target=0).sparsity_target == 0.0 and Part(sparsity_target=0.3).sparsity_target == 0.3


def test_the_context_is_set_inside_only_even_when_it_raises():
    part = Part()
    language, task = torch.tensor([1, 0]), torch.tensor([0, 0])
    assert part.encoder_context == (None, None)
    with part.context(language, task):
        assert part.encoder_context == (language, task)
    with pytest.raises(RuntimeError, match="stop"):
        with part.context(language, task):
            raise RuntimeError("stop")
    assert part.encoder_context == (None, None)


def test_sparsity_stats_plain_cost_weighted_and_per_module_type():
    part = Part()
    stats = part.sparsity_stats("enc", decision(part, [[1, 0, 1, 1], [0, 0, 1, 0]]))
    assert set(stats) == {"enc_sparsity", "enc_sparsity_flops", "enc_keep_attn", "enc_keep_ffn"}
    assert stats["enc_sparsity"].item() == 0.5
    assert stats["enc_sparsity_flops"].item() == pytest.approx((3 / 8 + 7 / 8) / 2)  # costs 1, 3, 1, 3
    assert (stats["enc_keep_attn"].item(), stats["enc_keep_ffn"].item()) == (0.75, 0.25)


def test_sparsity_stats_of_layer_gates_have_no_module_types_and_of_no_decision_are_empty():
    layers = Part("layer")
    stats = layers.sparsity_stats("dec", decision(layers, [[1, 0], [1, 1]]))
    assert {k: v.item() for k, v in stats.items()} == {"dec_sparsity": 0.25, "dec_sparsity_flops": 0.25}
    assert Part().sparsity_stats("enc") == {}  # nothing decided yet


def test_a_forced_mask_is_what_the_encoder_runs_and_reports():
    _, encoder = encoder_pair(gate_granularity="module")
    assert encoder.gate_names == tuple(f"layer{i}.{m}" for i in (0, 1) for m in ("ffn1", "attn", "cgmlp", "ffn2"))
    mask = torch.tensor([[1, 0, 1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 1], [1] * 8])
    encoder.force_gates(mask)
    with torch.no_grad():
        encoder(*speech())
    assert torch.equal(encoder.last_gates.keep, mask.bool()) and encoder.last_gates.names == encoder.gate_names
    stats = {k: round(v.item(), 4) for k, v in encoder.sparsity_stats("enc").items() if k != "enc_sparsity_flops"}
    assert stats == {"enc_sparsity": 0.25, "enc_keep_ffn1": 0.6667, "enc_keep_attn": 0.6667,
                     "enc_keep_cgmlp": 0.8333, "enc_keep_ffn2": 0.8333}
    encoder.force_gates("off")
    with torch.no_grad():
        encoder(*speech())
    assert {k: v.item() for k, v in encoder.sparsity_stats("enc").items()} == {
        "enc_sparsity": 1.0, "enc_sparsity_flops": 1.0, "enc_keep_ffn1": 0.0, "enc_keep_attn": 0.0,
        "enc_keep_cgmlp": 0.0, "enc_keep_ffn2": 0.0}


def test_a_mask_of_the_wrong_width_is_refused_and_none_gives_the_predictor_back():
    _, encoder = encoder_pair(gate_granularity="layer")
    with pytest.raises(ValueError, match=r"gate mask of shape \(3,\) must be \(G,\) or \(B, G\) with G = 2"):
        encoder.force_gates(torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="gate pattern 'half' is not one of 'on', 'off'"):
        encoder.force_gates("half")
    encoder.force_gates("off")
    assert encoder.gate_predictor.forcing is not None
    encoder.force_gates(None)
    assert encoder.gate_predictor.forcing is None
    with torch.no_grad():
        encoder(*speech())
    assert encoder.gate_predictor.last_margins is not None  # decided by the predictor, not forced
