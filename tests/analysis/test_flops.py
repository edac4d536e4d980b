"""fvcore FLOPs of an utterance: gates that are off cost nothing, all-on equals stock ESPnet."""

from __future__ import annotations

import pytest

from espnet_dynprune.analysis import flops


def test_decoder_cost_sums_the_affine_cached_steps():
    cost = flops.DecoderCost(first=10.0, second=100.0, per_token=1.0)
    assert cost.total(0) == 10.0
    assert cost.total(3) == 10.0 + 100.0 + 101.0 + 102.0
    as_convention = [[1, 4, 0], [5, 5, 1], [5, 6, 1], [5, 7, 1]]
    assert cost.of_calls(as_convention, beam_size=5, prompt_length=4) == cost.total(3)
    assert cost.of_calls([[1, 4, 0], [2, 5, 1]], beam_size=4, prompt_length=4) == 10.0 + 50.0


def test_output_tokens_and_utterance_choice():
    assert flops.output_token_count("<fra> <asr> <notimestamps> a b") == 2
    assert flops.output_token_count("<fra> <asr> <notimestamps>") == 0
    with pytest.raises(ValueError, match="x: expected <lang> <task> first"):
        flops.output_token_count("a b", "x")
    assert flops.evenly_spaced(["c", "a", "b", "d", "e"], 3) == ["a", "c", "e"]
    assert flops.evenly_spaced(["b", "a"], 5) == ["a", "b"]


def test_skipped_modules_are_not_counted_and_all_on_equals_stock(flops_models, flop_counter):
    stock = flops_models[2]
    on, off, half = (flop_counter.utterance(10, g) for g in ("on", "off", 0.5))
    assert off["encoder"] < half["encoder"] < on["encoder"] and off["decoder"] < half["decoder"] < on["decoder"]
    assert off["encoder"] > 0  # the conv2d subsampling cannot be gated
    dec_off = flop_counter.utterance(10, {"encoder": "on", "decoder": "off"})
    assert dec_off["encoder"] == on["encoder"] and dec_off["decoder"] == off["decoder"]
    stock_on = flops.utterance_gflops(stock, 2.0, 10, 3, lang_sym="<fra>", task_sym="<asr>")
    assert stock_on["encoder"] == on["encoder"]
    # stock ESPnet re-projects the source keys/values at every step for every hypothesis ...
    assert stock_on["decoder"] > 2 * on["decoder"]
    # ... which is what the dynprune decoder is charged when counted the papers' (stock) way
    assert flop_counter.utterance(10, "on", reprojected=True)["decoder"] == pytest.approx(stock_on["decoder"])
    assert flop_counter.utterance(10, "off", reprojected=True) == off  # no source attention runs: nothing to re-project
    stock_counter = flops.FlopCounter(stock, 2.0, 3, "<fra>", "<asr>")
    assert stock_counter.utterance(10, reprojected=True) == stock_counter.utterance(10)


@pytest.mark.parametrize("which", [1, 2])
def test_a_cached_step_is_affine_in_the_prefix_length(flops_models, flop_counter, which):
    model = flops_models[which]
    c = flop_counter if which == 1 else flops.FlopCounter(model, 2.0, 3, lang_sym="<fra>", task_sym="<asr>")
    with flops.forced(model, "on"):
        _, memory = c._encoder()
        steps = c.decoder_steps(memory, steps=6)
    growth = steps[2] - steps[1]
    assert growth > 0 and all(b - a == growth for a, b in zip(steps[1:], steps[2:]))


def test_forcing_is_restored_and_gate_names_checked(flops_models):
    _, dyn, _ = flops_models
    dyn.force_gates(0.25, "encoder")
    before = dyn.encoder.gate_predictor.forcing
    with flops.forced(dyn, {"encoder": "off", "decoder": None}):
        assert dyn.encoder.gate_predictor.forcing.spec == "off"
    assert dyn.encoder.gate_predictor.forcing is before and dyn.decoder.gate_predictor.forcing is None
    dyn.force_gates(None)
    with pytest.raises(ValueError, match="gate names .* do not match"):
        with flops.forced(dyn, {"decoder": {"layer0.ffn": True}}):
            pass
    with pytest.raises(ValueError, match="need a dynprune model"):
        with flops.forced(flops_models[2], "off"):
            pass
