"""batch_decode_bench: every batch size decodes the same utterances; ratios to the first size."""

from __future__ import annotations

import json

import pytest

from espnet_dynprune.recipe import batch_decode_bench
from tests.builders.tiny_decoding import write_test_set, write_tiny_model


def test_batch_sizes_side_by_side_with_the_same_hypotheses(tmp_path, capsys):
    config, model = write_tiny_model(tmp_path / "model")
    data = write_test_set(tmp_path / "test_fra_asr")
    results = batch_decode_bench.main(["--data_dir", str(data), "--s2t_train_config", str(config),
                                       "--s2t_model_file", str(model), "--configs", "1", "2", "2:fp32:int8", "--utts", "3",
                                       "--repeats", "1", "--beam_size", "2", "--output", str(tmp_path / "b.json")])
    assert list(results) == ["1:fp32:fp32", "2:fp32:fp32", "2:fp32:int8"] and results["1:fp32:fp32"]["ratio"] == 1.0
    assert results["2:fp32:fp32"]["same_hypotheses"] and results["2:fp32:fp32"]["wer"] == results["1:fp32:fp32"]["wer"]
    assert all(r["utts"] == 3 and r["seconds_per_utt"] > 0 and r["wer"] >= 0 for r in results.values())
    assert "| 2:fp32:int8 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "b.json").read_text())["results"]["2:fp32:fp32"]["same_hypotheses"] is True


def test_a_bad_configuration_is_named():
    with pytest.raises(ValueError, match=r"'8:fp16:fp32' is not BATCH\[:ENCODER:DECODER\]"):
        batch_decode_bench.parse_config("8:fp16:fp32")
