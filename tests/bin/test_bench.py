"""``bin.bench``: every scope end to end on tiny models (no timing asserted: CI machines vary)."""

import json
import shutil

import pytest

from espnet_dynprune.analysis.static_bench import DENSE
from espnet_dynprune.analysis.throughput import parse_rung
from espnet_dynprune.bin import bench
from espnet_dynprune.nets.espnet_compat import SEARCHES_SEVERAL_UTTERANCES
from tests.builders.tiny_decoding import write_test_set, write_tiny_model
from tests.builders.tiny_recipe import RECIPE


def test_encoder_scope_prints_the_table_and_writes_json(tiny_size, tmp_path, capsys):
    out = tmp_path / "static.json"
    bench.main(["encoder", "--sizes", tiny_size, "--sparsities", "0.5", "--frames", "120", "--repeats", "1",
                "--warmup", "0", "--threads", "1", "--output", str(out)])
    printed = capsys.readouterr().out
    assert "| pruned 0.5 |" in printed and "time ratio / GMAC ratio, pruned 0.5" in printed
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == 1
    assert set(report["sizes"][tiny_size]["results"]) == {DENSE, "pruned 0.5"}
    assert report["sizes"][tiny_size]["targets"][0]["limit"] == "<= 1.1"


def test_encoder_scope_rejects_a_sparsity_out_of_range(tiny_size):
    with pytest.raises(SystemExit, match="sparsities"):
        bench.main(["encoder", "--sizes", tiny_size, "--sparsities", "1.0"])


def test_encoder_scope_times_trained_model_zoo_dirs_against_the_first(tmp_path, capsys):
    standin, out = str(RECIPE / "standin"), tmp_path / "zoo.json"
    copy = str(shutil.copytree(standin, tmp_path / "copy"))
    bench.main(["encoder", "--zoo_dirs", standin, copy, "--frames", "120", "--repeats", "1", "--warmup", "0",
                "--threads", "1", "--decode_steps", "3", "--output", str(out)])
    assert f"fewer encoder parameters, {copy}" in capsys.readouterr().out
    report = json.loads(out.read_text())["zoo_dirs"]
    assert list(report["results"]) == [standin, copy]  # the first is the reference
    assert report["results"][copy]["param_reduction"] == 0.0 and report["results"][copy]["gmac_ratio"] == 1.0
    assert [t["met"] for t in report["targets"]][1] is False  # no fewer parameters than itself
    decoding = report["decoding"]
    assert list(decoding) == [standin, copy] and decoding[standin]["total_ratio"] == 1.0
    assert all(r["decoder_s"] > 0 and r["encoder_s"] > 0 for r in decoding.values())


def test_decode_measures_every_configuration_side_by_side(tiny_size, tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["decode", "--sizes", tiny_size, "--parts", "encoder,decoder,both", "--sparsities", "0,0.5",
                "--static_sparsities", "0.5", "--speech_seconds", "2", "--steps", "4", "--repeats", "1", "--warmup", "0",
                "--output", str(out)])
    report = json.loads(out.read_text())["sizes"][tiny_size]
    results = report["results"]
    assert list(results) == ["stock ESPnet", "dynprune dense", "encoder 0.0", "encoder 0.5",
                             "decoder 0.0", "decoder 0.5", "both 0.0", "both 0.5", "static 0.5"]
    assert results["stock ESPnet"]["same_hypothesis_as_dense"] is True
    # stock ESPnet re-projects the source K/V every step; dense dynprune once per utterance
    assert results["stock ESPnet"]["gmac_decoder"] > results["dynprune dense"]["gmac_decoder"]
    assert results["stock ESPnet"]["gmac_encoder"] == results["dynprune dense"]["gmac_encoder"]
    assert results["encoder 0.5"]["gmac_encoder"] < results["encoder 0.0"]["gmac_encoder"]
    assert results["encoder 0.5"]["gmac_decoder"] == results["dynprune dense"]["gmac_decoder"]
    assert results["decoder 0.5"]["gmac_decoder"] < results["decoder 0.0"]["gmac_decoder"]
    for part in ("encoder", "decoder"):  # statically pruned: both parts smaller, gates all on
        assert results["static 0.5"][f"gmac_{part}"] < results["dynprune dense"][f"gmac_{part}"]
    assert all(r["total_s"] > 0 for r in results.values())
    mixed = report["mixed_batch"]
    assert mixed["distinct_patterns"] > 1 and mixed["throughput_ratio"] > 0
    names = [t["target"] for t in report["targets"]]
    assert names[0].startswith("decode time, dense cached K/V") and any("gate overhead" in n for n in names)
    assert sum("time ratio / GMAC ratio" in n for n in names) == 4  # encoder/decoder/both at 0.5, static 0.5
    table = capsys.readouterr().out
    assert "| stock ESPnet |" in table and "| both 0.5 |" in table and "| met |" in table


def test_decode_runs_the_dynprune_configurations_again_at_reduced_precisions(tiny_size, tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["decode", "--sizes", tiny_size, "--parts", "both", "--sparsities", "0.5", "--precisions", "int8:int8,bf16:fp32",
                "--speech_seconds", "2", "--steps", "3", "--repeats", "1", "--warmup", "0", "--mixed_sparsity", "-1",
                "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]["results"]
    assert list(results)[3:] == ["dynprune dense int8:int8", "both 0.5 int8:int8", "dynprune dense bf16:fp32",
                                 "both 0.5 bf16:fp32"]
    assert results["both 0.5 int8:int8"]["precision"] == "int8:int8" and results["both 0.5"]["precision"] == "fp32:fp32"
    # the same work at fewer bits: counted as the float32 model runs it
    assert results["dynprune dense int8:int8"]["gmac_total"] == pytest.approx(results["dynprune dense"]["gmac_total"])
    assert all(r["total_s"] > 0 for r in results.values())
    assert "| both 0.5 bf16:fp32 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"--precisions: \['int4:int8'\]"):
        bench.main(["decode", "--sizes", tiny_size, "--precisions", "int4:int8"])


def test_throughput_decodes_every_rung_side_by_side(tiny_size, tmp_path, capsys):
    out = tmp_path / "t.json"
    bench.main(["throughput", "--sizes", tiny_size, "--ladder", "stock:1", "dense:1", "dense:3", "dense:3/1", "0.5:3",
                "0.5:3:bf16:int8",
                "--utterances", "5", "--speech_seconds", "2", "--steps", "4", "--profile", "dense:1",
                "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]
    assert list(results) == ["stock:1:fp32:fp32", "dense:1:fp32:fp32", "dense:3:fp32:fp32", "dense:3/1:fp32:fp32",
                        "0.5:3:fp32:fp32", "0.5:3:bf16:int8"]
    # cached K/V and batching (5 utterances in batches of 3 and 2, encoded together or one by one)
    # change no hypothesis of stock ESPnet's
    for spec in ("stock:1:fp32:fp32", "dense:1:fp32:fp32", "dense:3:fp32:fp32", "dense:3/1:fp32:fp32"):
        assert results[spec]["same_hypotheses_as_first"] == 5
    assert results["stock:1:fp32:fp32"]["speedup"] == 1.0
    assert all(r["utts_per_s"] == pytest.approx(5 / r["total_s"]) for r in results.values())
    # bf16 encoder + int8 decoder: fewer weight bytes; a batch of 3 needs more working memory than one utterance
    assert results["0.5:3:bf16:int8"]["weights_mb"] < 0.8 * results["dense:3:fp32:fp32"]["weights_mb"]
    assert results["dense:3:fp32:fp32"]["peak_working_mb"] > results["dense:1:fp32:fp32"]["peak_working_mb"] > 0
    assert results["dense:3:fp32:fp32"]["peak_working_mb"] > results["dense:3/1:fp32:fp32"]["peak_working_mb"]
    ops = results["dense:1:fp32:fp32"]["profile"]
    assert ops and all(0 < o["share"] <= 1 and o["calls"] >= 1 for o in ops)
    assert any("addmm" in o["op"] or "linear" in o["op"] for o in ops)
    table = capsys.readouterr().out
    assert "| 0.5:3:bf16:int8 |" in table and "Where dense:1:fp32:fp32 spends one batch" in table


def test_stock_espnet_decodes_a_batch_in_one_search_where_it_can(tiny_size, tmp_path, capsys):
    """ESPnet 202611's fastest setting (Speech2Text's batch_size) is a rung, and a second baseline."""
    if not SEARCHES_SEVERAL_UTTERANCES:
        with pytest.raises(ValueError, match="decodes one utterance at a time"):
            parse_rung("stock:8")
        return
    out = tmp_path / "t.json"
    bench.main(["throughput", "--sizes", tiny_size, "--ladder", "stock:1", "stock:8", "dense:8", "--utterances", "5",
                "--speech_seconds", "2", "--steps", "4", "--memory", "false", "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]
    batched = results["stock:8:fp32:fp32"]
    assert batched["same_hypotheses_as_first"] == 5 and results["dense:8:fp32:fp32"]["same_hypotheses_as_first"] == 5
    assert batched["speedup_vs_stock_batched"] == 1.0
    assert results["dense:8:fp32:fp32"]["speedup_vs_stock_batched"] == pytest.approx(
        batched["total_s"] / results["dense:8:fp32:fp32"]["total_s"])
    assert "vs stock:8:fp32:fp32 |" in capsys.readouterr().out


def test_gmac_are_those_of_the_patterns_each_utterance_ran(tiny_size, tmp_path, capsys):
    out = tmp_path / "t.json"
    bench.main(["throughput", "--sizes", tiny_size, "--ladder", "dense:1", "0.5,on:1", "dense:2", "0.5,on:2", "on,0.5:2",
                "--utterances", "3", "--speech_seconds", "2", "--steps", "4", "--gmac", "true",
                "--memory", "false", "--profile", "0.5,on:2", "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]
    dense, enc1, enc2, dec2 = (results[s] for s in ("dense:1:fp32:fp32", "0.5,on:1:fp32:fp32", "0.5,on:2:fp32:fp32",
                                                "on,0.5:2:fp32:fp32"))
    # pruning the encoder removes encoder GMAC only, the same per utterance batched or not
    assert enc1["gmac_encoder"] < dense["gmac_encoder"]
    assert enc1["gmac_decoder"] == pytest.approx(dense["gmac_decoder"])
    assert enc2["gmac_total"] == pytest.approx(enc1["gmac_total"])
    assert dec2["gmac_decoder"] < dense["gmac_decoder"] and dec2["gmac_encoder"] == pytest.approx(dense["gmac_encoder"])
    # the time/GMAC ratio is taken against the dense rung of the same batch, absent for dense rungs
    assert enc2["time_per_gmac_vs_dense"] == pytest.approx(
        (enc2["total_s"] / results["dense:2:fp32:fp32"]["total_s"]) / (enc2["gmac_total"] / dense["gmac_total"]))
    assert "time_per_gmac_vs_dense" not in dense and "time_per_gmac_vs_dense" in enc1
    assert len(enc2["profile"]) > 0
    assert "| 0.5,on:2:fp32:fp32 |" in capsys.readouterr().out


def test_profiling_a_rung_that_is_not_on_the_ladder_is_refused(tiny_size):
    with pytest.raises(SystemExit, match=r"--profile \['dense:4:fp32:fp32'\]: not rungs of --ladder"):
        bench.main(["throughput", "--sizes", tiny_size, "--ladder", "stock:1", "dense:1", "--profile", "dense:4"])


def test_experiment_scope_decodes_real_audio_per_configuration(tmp_path, capsys):
    config, model = write_tiny_model(tmp_path / "model")
    data = write_test_set(tmp_path / "test_fra_asr")
    out = tmp_path / "b.json"
    bench.main(["experiment", "--data_dir", str(data), "--s2t_train_config", str(config), "--s2t_model_file", str(model),
                "--configs", "1", "2", "2:fp32:int8", "--utts", "3", "--repeats", "1", "--warmup", "0",
                "--beam_size", "2", "--output", str(out)])
    report = json.loads(out.read_text())
    results = report["results"]
    assert list(results) == ["1:fp32:fp32", "2:fp32:fp32", "2:fp32:int8"] and results["1:fp32:fp32"]["ratio"] == 1.0
    assert results["2:fp32:fp32"]["same_hypotheses"] is True
    assert report["settings"]["configs"] == ["1:fp32:fp32", "2:fp32:fp32", "2:fp32:int8"]
    assert report["settings"]["data_dir"] == str(data) and report["machine"]["threads"] == 1  # one thread by default
    assert "| 2:fp32:int8 |" in capsys.readouterr().out


def test_every_scope_refuses_bad_rounds_and_names_its_scopes(tiny_size, capsys):
    with pytest.raises(SystemExit, match="--repeats must be >= 1"):
        bench.main(["decode", "--sizes", tiny_size, "--repeats", "0"])
    with pytest.raises(SystemExit):
        bench.main(["static"])
    assert "invalid choice: 'static'" in capsys.readouterr().err


def test_encoder_scope_times_whisper_checkpoints(tmp_path, capsys):
    pytest.importorskip("whisper", reason="openai-whisper is installed on the ESPnet 202611 leg only")
    from tests.builders.tiny_whisper import TINY, write_checkpoint

    checkpoint = str(write_checkpoint(tmp_path / "tiny.pt", TINY))
    out = tmp_path / "w.json"
    bench.main(["encoder", "--whisper", checkpoint, "--sparsities", "0.5", "--seconds", "1", "--repeats", "1",
                "--warmup", "0", "--output", str(out)])
    assert "### Whisper " in capsys.readouterr().out
    report = json.loads(out.read_text())["whisper"][checkpoint]
    assert list(report["results"]) == [DENSE, "pruned 0.5"] and report["targets"][0]["limit"] == "<= 1.1"
    with pytest.raises(SystemExit, match="--whisper and --zoo_dirs: give one of them"):
        bench.main(["encoder", "--whisper", checkpoint, "--zoo_dirs", "a", "b"])
