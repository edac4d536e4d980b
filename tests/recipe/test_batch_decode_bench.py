"""Decoding configurations side by side as the recipe decodes: same utterances, ratios to the first."""

from __future__ import annotations

from espnet_dynprune.recipe.batch_decode_bench import bench_configs, markdown
from tests.builders.tiny_decoding import write_test_set, write_tiny_model


def test_batch_sizes_side_by_side_with_the_same_hypotheses(tmp_path):
    config, model = write_tiny_model(tmp_path / "model")
    data = write_test_set(tmp_path / "test_fra_asr")
    configs = [(1, "fp32", "fp32"), (2, "fp32", "fp32"), (2, "fp32", "int8")]
    results = bench_configs(data, config, model, configs, utts=3, repeats=1, warmup=0, beam_size=2)
    assert list(results) == ["1:fp32:fp32", "2:fp32:fp32", "2:fp32:int8"] and results["1:fp32:fp32"]["ratio"] == 1.0
    assert results["2:fp32:fp32"]["same_hypotheses"] and results["2:fp32:fp32"]["wer"] == results["1:fp32:fp32"]["wer"]
    assert all(r["utts"] == 3 and r["seconds_per_utt"] > 0 and r["wer"] >= 0 for r in results.values())
    table = markdown(results)
    assert table.startswith("| batch:encoder:decoder | s/utt | time vs 1:fp32:fp32 | WER | same hypotheses |")
    assert "| 2:fp32:fp32 |" in table and "| yes |" in table
