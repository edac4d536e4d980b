"""The static-pruning benchmark end to end on a tiny OWSM-shaped config (no timing asserted)."""

import json

import pytest
import torch

from espnet_dynprune.analysis.static_bench import DENSE, bench_size, encoder_conf
from espnet_dynprune.bin import static_bench


@pytest.fixture(scope="module")
def results(tiny_size):
    return bench_size(tiny_size, [0.0, 0.5, 0.7], repeats=1, warmup=0, frames=200, log=lambda _: None)


def test_encoder_conf_has_espnet_keys_only():
    conf = encoder_conf("base")
    assert conf["output_size"] == 384 and conf["num_blocks"] == 6
    assert not {"sparsity_target", "gate_predictor", "context_dropout"} & set(conf)


def test_pruned_encoders_are_smaller_and_cheaper_than_dense(results):
    assert list(results) == [DENSE, "pruned 0", "pruned 0.5", "pruned 0.7"]
    fields = {"params_M", "file_MB", "gmac", "pad_gmac", "time_s", "spread", "time_ratio", "gmac_ratio",
              "time_over_gmac", "param_reduction"}
    for name in ("pruned 0.5", "pruned 0.7"):
        r = results[name]
        assert fields <= set(r)
        assert r["params_M"] < results[DENSE]["params_M"] and r["file_MB"] < results[DENSE]["file_MB"]
        assert 0 < r["gmac_ratio"] < 1 and r["param_reduction"] > 0
        assert abs(r["realised_sparsity"] - r["sparsity"]) <= 0.01
    assert results["pruned 0.7"]["gmac"] < results["pruned 0.5"]["gmac"]


def test_unpruned_export_counts_what_dense_counts(results):
    # the exported attention's products (added by hand: fvcore skips SDPA) match fvcore's dense count
    assert results["pruned 0"]["gmac"] == pytest.approx(results[DENSE]["gmac"], rel=1e-9)
    assert results["pruned 0"]["params_M"] == pytest.approx(results[DENSE]["params_M"])
    assert results["pruned 0"]["pad_gmac"] == 0


def test_exported_encoders_compute_what_the_masked_ones_do(results):
    for name in ("pruned 0", "pruned 0.5", "pruned 0.7"):
        assert results[name]["max_abs_diff_vs_masked"] <= 1e-4


def test_cli_prints_the_table_and_writes_json(tiny_size, tmp_path, capsys):
    out = tmp_path / "static.json"
    threads = torch.get_num_threads()
    try:
        static_bench.main(["--sizes", tiny_size, "--sparsities", "0.5", "--frames", "120", "--repeats", "1",
                           "--warmup", "0", "--threads", "1", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)  # the CLI sets it for the whole process
    printed = capsys.readouterr().out
    assert "| pruned 0.5 |" in printed and "time ratio / GMAC ratio, pruned 0.5" in printed
    report = json.loads(out.read_text())
    assert report["machine"]["threads"] == 1
    assert set(report["sizes"][tiny_size]["results"]) == {DENSE, "pruned 0.5"}
    assert report["sizes"][tiny_size]["targets"][0]["limit"] == "<= 1.1"


def test_cli_rejects_a_sparsity_out_of_range(tiny_size):
    with pytest.raises(SystemExit, match="sparsities"):
        static_bench.main(["--sizes", tiny_size, "--sparsities", "1.0"])


def test_cli_times_trained_model_zoo_dirs_against_the_first(tmp_path, capsys):
    import shutil

    from tests.builders.tiny_recipe import RECIPE

    standin, out = str(RECIPE / "standin"), tmp_path / "zoo.json"
    copy = str(shutil.copytree(standin, tmp_path / "copy"))
    threads = torch.get_num_threads()
    try:
        static_bench.main(["--zoo_dirs", standin, copy, "--frames", "120", "--repeats", "1", "--warmup", "0",
                           "--threads", "1", "--decode_steps", "3", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert f"fewer encoder parameters, {copy}" in capsys.readouterr().out
    report = json.loads(out.read_text())["zoo_dirs"]
    assert list(report["results"]) == [standin, copy]  # the first is the reference
    assert report["results"][copy]["param_reduction"] == 0.0 and report["results"][copy]["gmac_ratio"] == 1.0
    assert [t["met"] for t in report["targets"]][1] is False  # no fewer parameters than itself
    decoding = report["decoding"]
    assert list(decoding) == [standin, copy] and decoding[standin]["total_ratio"] == 1.0
    assert all(r["decoder_s"] > 0 and r["encoder_s"] > 0 for r in decoding.values())
