"""The benchmark end to end on a tiny OWSM-shaped size (no timing asserted: CI machines vary)."""

import json

import pytest

from espnet_dynprune.analysis.bench_report import targets
from espnet_dynprune.bin import bench


def test_bench_measures_every_configuration_side_by_side(tiny_size, tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--sizes", tiny_size, "--parts", "encoder,decoder,both", "--sparsities", "0,0.5",
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


def test_targets_flag_what_is_missed():
    row = {"encoder_s": 1.0, "decoder_s": 1.0, "total_s": 2.0, "gmac_total": 10.0, "gmac_encoder": 6.0,
           "gmac_decoder": 4.0}
    results = {"stock ESPnet": {**row, "decoder_s": 4.0}, "dynprune dense": row,
               "both 0.0": {**row, "total_s": 2.2}, "both 0.5": {**row, "total_s": 1.0, "gmac_total": 5.0}}
    met = {t["target"]: t["met"] for t in targets(results, None)}
    assert met == {"decode time, dense cached K/V / stock ESPnet": False,
                   "time ratio / GMAC ratio, both 0.5": True,
                   "gate overhead at sparsity 0 (both parts)": False}


def test_reduced_precisions_run_the_dynprune_configurations_again(tiny_size, tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--sizes", tiny_size, "--parts", "both", "--sparsities", "0.5", "--precisions", "int8:int8,bf16:fp32",
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
        bench.main(["--sizes", tiny_size, "--precisions", "int4:int8"])
