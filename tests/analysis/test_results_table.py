"""Results tables collected from what decode, scoring and flops write: missing files are n/a."""

from __future__ import annotations

import logging

from espnet_dynprune.analysis import results_table
from tests.builders.stage_outputs import fake_test_set


def test_a_test_set_with_nothing_scored_is_all_n_a(tmp_path, caplog):
    exp = tmp_path / "exp" / "x"
    fake_test_set(exp, "decode_a", "test_deu_asr", "deu", "asr", {}, 0, 0, 0,
                  skip=("result.json", "decode_summary.json", "flops.json"))
    with caplog.at_level(logging.WARNING):
        rows = results_table.collect([exp, tmp_path / "exp" / "empty"])
    assert caplog.text.count("is missing") == 3 and "empty has no decode_* directory" in caplog.text
    cells = [results_table.cell(rows[0][k], f) for _, k, f in results_table.COLUMNS[3:]]
    assert cells == ["n/a"] * len(cells)
