"""Results tables: exactly what decode, scoring and flops write; missing files are n/a."""

from __future__ import annotations

import csv
import json
import logging

from espnet_dynprune.analysis import results_table
from espnet_dynprune.recipe import results_table as results_table_command


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def fake_test_set(exp, decode, test_set, lang, task, score, seconds, gflops, sparsity, skip=()):
    """The three files stages 12-13 write, in their real layout (``skip`` leaves some out)."""
    d = exp / decode / test_set
    files = {
        "result.json": {"task": task, **score},
        "decode_summary.json": {"num_utts": 3, "seconds_per_utt": seconds, "encoder_seconds_per_utt": seconds / 4,
                                "decoder_seconds_per_utt": 3 * seconds / 4,
                                "model": {"parameters": 4_500_000, "encoder_parameters": 2_500_000,
                                          "file_bytes": 9_000_000},
                                "sparsity": {"encoder": sparsity, "decoder": sparsity / 2},
                                "settings": {"lang_sym": f"<{lang}>", "task_sym": f"<{task}>"}},
        "flops.json": {"gflops": {"encoder": gflops / 2, "decoder": gflops / 2, "total": gflops},
                       "gflops_as_run": {"total": 2 * gflops}},
    }
    for name, data in files.items():
        if name not in skip:
            write_json(d / name, data)
    d.mkdir(parents=True, exist_ok=True)


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


def test_a_test_set_with_nothing_scored_is_all_n_a(tmp_path, caplog):
    exp = tmp_path / "exp" / "x"
    fake_test_set(exp, "decode_a", "test_deu_asr", "deu", "asr", {}, 0, 0, 0,
                  skip=("result.json", "decode_summary.json", "flops.json"))
    with caplog.at_level(logging.WARNING):
        rows = results_table.collect([exp, tmp_path / "exp" / "empty"])
    assert caplog.text.count("is missing") == 3 and "empty has no decode_* directory" in caplog.text
    cells = [results_table.cell(rows[0][k], f) for _, k, f in results_table.COLUMNS[3:]]
    assert cells == ["n/a"] * len(cells)
