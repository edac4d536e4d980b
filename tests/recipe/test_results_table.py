"""Results tables from the command line: exactly what decode, scoring and flops write, as Markdown and CSV."""

from __future__ import annotations

import csv
import logging

from espnet_dynprune.recipe import results_table as results_table_command
from tests.builders.stage_outputs import fake_test_set


def test_tables_from_two_experiments(tmp_path, caplog, capsys):
    a, b = tmp_path / "exp" / "dense", tmp_path / "exp" / "dynprune"
    fake_test_set(a, "decode_gates_on", "test_fra_asr", "fra", "asr", {"wer": 20.0, "cer": 9.5}, 0.5, 12.0, 0.0)
    fake_test_set(a, "decode_gates_on", "test_fra_st", "fra", "st_eng", {"bleu": 30.0, "chrf": 55.0},
                  0.3, 10.0, 0.0)
    fake_test_set(b, "decode_gates_predicted", "test_fra_asr", "fra", "asr", {"wer": 22.25, "cer": 10.0},
                  0.25, 6.0, 0.5, skip=("flops.json",))
    (b / "decode_gates_predicted" / "logdir").mkdir()  # the decoding JOB array's logs: not a test set
    with caplog.at_level(logging.WARNING):
        text = results_table_command.main(["--exp_dirs", str(a), str(b), "--output_dir", str(tmp_path / "results")])
    assert "test_fra_asr/flops.json is missing" in caplog.text
    assert "## Overview" in text and "## dense" in text and "## dynprune" in text
    assert text == (tmp_path / "results" / "results.md").read_text() and text in capsys.readouterr().out
    overview = text.split("## dense")[0]
    assert "| Experiment | Decode | test_fra_asr WER | test_fra_st BLEU | mean s/utt | mean GFLOPs |" in overview
    assert "| dense | decode_gates_on | 20.00 | 30.00 | 0.400 | 11 | 0.000 | 0.000 | 0.100 | 0.300 | 4.50 | 2.50 | 9.0 |" in overview
    assert overview.splitlines()[4].endswith("| mean enc s/utt | mean dec s/utt | params M | enc params M | file MB |")
    assert "| dynprune | decode_gates_predicted | 22.25 | n/a | 0.250 | n/a | 0.500 | 0.250 |" in overview
    detail = text.split("## dynprune")[1]
    assert "| decode_gates_predicted | test_fra_asr | fra | asr | 22.25 | 10.00 |  |  | 0.250 | n/a | n/a | 0.500 |" in detail
    with (tmp_path / "results" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["experiment"], r["test_set"]) for r in rows] == [
        ("dense", "test_fra_asr"), ("dense", "test_fra_st"), ("dynprune", "test_fra_asr")]
    assert rows[1]["bleu"] == "30.0" and rows[1]["wer"] == "" and rows[2]["gflops"] == ""
    assert rows[1]["gflops_as_run"] == "20.0"
