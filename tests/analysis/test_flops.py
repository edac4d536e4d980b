"""fvcore FLOPs of an utterance: gates that are off cost nothing, all-on equals stock ESPnet."""

from __future__ import annotations

import json
import shutil

import pytest

from espnet_dynprune.analysis import flops
from espnet_dynprune.bin import flops as flops_command
from tests.builders.tiny_decoding import write_test_set, write_tiny_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from espnet2.tasks.s2t import S2TTask

    work = tmp_path_factory.mktemp("flops")
    (work / "dyn").mkdir()
    files = write_tiny_model(work / "dyn")
    stock_config, _ = write_tiny_model(work, dynprune=False)
    dyn, _ = S2TTask.build_model_from_file(*files, "cpu")
    stock, _ = S2TTask.build_model_from_file(stock_config, files[1], "cpu")  # gate keys ignored
    return files, dyn, stock


@pytest.fixture(scope="module")
def counter(models):
    """Shared, so each gate pattern is traced once for the whole module."""
    return flops.FlopCounter(models[1], 2.0, 3, "<fra>", "<asr>")


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


def test_skipped_modules_are_not_counted_and_all_on_equals_stock(models, counter):
    stock = models[2]
    on, off, half = (counter.utterance(10, g) for g in ("on", "off", 0.5))
    assert off["encoder"] < half["encoder"] < on["encoder"] and off["decoder"] < half["decoder"] < on["decoder"]
    assert off["encoder"] > 0  # the conv2d subsampling cannot be gated
    dec_off = counter.utterance(10, {"encoder": "on", "decoder": "off"})
    assert dec_off["encoder"] == on["encoder"] and dec_off["decoder"] == off["decoder"]
    stock_on = flops.utterance_gflops(stock, 2.0, 10, 3, lang_sym="<fra>", task_sym="<asr>")
    assert stock_on["encoder"] == on["encoder"]
    # stock ESPnet re-projects the source keys/values at every step for every hypothesis ...
    assert stock_on["decoder"] > 2 * on["decoder"]
    # ... which is what the dynprune decoder is charged when counted the papers' (stock) way
    assert counter.utterance(10, "on", reprojected=True)["decoder"] == pytest.approx(stock_on["decoder"])
    assert counter.utterance(10, "off", reprojected=True) == off  # no source attention runs: nothing to re-project
    stock_counter = flops.FlopCounter(stock, 2.0, 3, "<fra>", "<asr>")
    assert stock_counter.utterance(10, reprojected=True) == stock_counter.utterance(10)


@pytest.mark.parametrize("which", [1, 2])
def test_a_cached_step_is_affine_in_the_prefix_length(models, counter, which):
    model = models[which]
    c = counter if which == 1 else flops.FlopCounter(model, 2.0, 3, lang_sym="<fra>", task_sym="<asr>")
    with flops.forced(model, "on"):
        _, memory = c._encoder()
        steps = c.decoder_steps(memory, steps=6)
    growth = steps[2] - steps[1]
    assert growth > 0 and all(b - a == growth for a, b in zip(steps[1:], steps[2:]))


def test_forcing_is_restored_and_gate_names_checked(models):
    _, dyn, _ = models
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
        with flops.forced(models[2], "off"):
            pass


def test_cli_averages_the_decisions_of_real_utterances(models, counter, tmp_path):
    (config, model_file), dyn, _ = models
    data = write_test_set(tmp_path / "data", count=3)
    decode_dir = tmp_path / "decode"
    decode_dir.mkdir()
    tokens = {"utt0": "a b c", "utt1": "a", "utt2": "a b c"}
    (decode_dir / "token").write_text("".join(f"{u} <fra> <asr> <notimestamps> {t}\n" for u, t in tokens.items()))
    names = {p: part.gate_names for p, part in dyn.gated_parts().items()}
    patterns = {"utt0": True, "utt1": True, "utt2": False}
    (decode_dir / "gates.jsonl").write_text("".join(
        json.dumps({"utt": u, "gates": {p: dict.fromkeys(n, keep) for p, n in names.items()},
                    "decoder_calls": [[1, 4, 0]] + [[3, 4 + k, 1] for k in (1, 2, 3)]}) + "\n"
        for u, keep in patterns.items()))
    again = tmp_path / "decode_again"  # a second test set of the same model: one process, one load
    shutil.copytree(decode_dir, again)
    result, result_again = flops_command.main(["--s2t_train_config", str(config), "--s2t_model_file", str(model_file),
                                       "--decode_dir", str(decode_dir), str(again), "--data_dir", str(data), str(data),
                                       "--beam_size", "3", "--max_utts", "2"])
    expected = (counter.utterance(3, "on")["total"] + counter.utterance(3, "off")["total"]) / 2
    assert result["gflops"]["total"] == pytest.approx(expected)
    assert result["gflops_as_run"]["total"] == pytest.approx(expected)  # the calls follow the convention
    reprojected = (counter.utterance(3, "on", reprojected=True)["total"] + counter.utterance(3, "off")["total"]) / 2
    assert result["gflops_reprojected"]["total"] == pytest.approx(reprojected) and reprojected > expected
    assert (result["num_utts_used"], result["num_gate_patterns"], result["speech_seconds"]) == (2, 2, 2.0)
    assert json.loads((decode_dir / "flops.json").read_text()) == result
    assert json.loads((again / "flops.json").read_text()) == result_again == result
    with pytest.raises(SystemExit):
        flops_command.main(["--decode_dir", str(decode_dir), str(again), "--data_dir", str(data)])

