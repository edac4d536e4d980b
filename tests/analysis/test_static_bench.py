"""The static-pruning encoder benchmark on a tiny OWSM-shaped config (no timing asserted)."""

import pytest

from espnet_dynprune.analysis.static_bench import DENSE, bench_size, bench_whisper, encoder_conf


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


def test_a_whisper_encoder_is_timed_against_espnet_s_stock_one(tmp_path):
    from tests.builders.tiny_whisper import TINY, write_checkpoint

    checkpoint = str(write_checkpoint(tmp_path / "whisper.pt", TINY))
    results = bench_whisper(checkpoint, [0.0, 0.6], repeats=1, warmup=0, seconds=1.0, log=lambda _: None)
    assert list(results) == [DENSE, "pruned 0", "pruned 0.6"]
    assert results["pruned 0"]["params_M"] == pytest.approx(results[DENSE]["params_M"])
    assert abs(results["pruned 0.6"]["realised_sparsity"] - 0.6) <= 0.01
    assert results["pruned 0.6"]["gmac_ratio"] < 1 and results["pruned 0.6"]["param_reduction"] > 0.3
    assert all(results[n]["max_abs_diff_vs_masked"] <= 1e-4 for n in ("pruned 0", "pruned 0.6"))
    assert len(results["pruned 0.6"]["layer_sizes"]) == 2
