"""The paper's figures: gate names laid out as layer x module, and captions that state what each figure shows."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import pytest

from espnet_dynprune.analysis import paper_figures, paper_rows
from espnet_dynprune.analysis.paper_rows import Row
from tests.builders.stage_outputs import raw_entry, raw_record

LATEST = "2026-12-02 15:41 UTC"


def png_size(path: Path) -> Tuple[int, int]:
    """(width, height) in pixels from a PNG's header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def row(method: str, target: Optional[float], wer: float, bleu: float, seconds: Optional[float] = None,
        measured: Optional[str] = LATEST) -> Row:
    """A row decoded on one French ASR and one French ST test set, timed clean (``seconds``) in pass ``measured``."""
    decode = "decode_beam5_gates_predicted"
    sets = {"test_fra_asr": raw_entry("fra", "asr", wer), "test_fra_st_eng": raw_entry("fra", "st_eng", bleu)}
    record = raw_record(f"{method}_{target}", "dynamic", method, "none" if target is None else "both", {decode: sets},
                        target)  # fmt: skip
    entry = {"seconds_per_utt": seconds, **({"measured": measured} if measured else {})}
    timing = {"spec_hash": record["meta"]["spec_hash"], "decodes": {decode: entry}} if seconds is not None else None
    return paper_rows.rows_of(record, timing)[0]


def test_gate_names_become_a_layer_by_module_grid_with_gaps_for_missing_gates():
    names = ["layer0.ffn", "layer0.conv", "layer1.ffn", "layer1", "layer3.conv"]
    grid, layers, modules = paper_figures.layer_module_grid(names, [1.0, 0.5, 0.0, 0.25, 1.0])
    assert layers == ["layer 0", "layer 1", "layer 3"] and modules == ["ffn", "conv", "layer"]
    nan = np.nan
    np.testing.assert_array_equal(grid, [[1.0, 0.5, nan], [0.0, nan, 0.25], [nan, 1.0, nan]])
    with pytest.raises(ValueError, match=r"gate name 'encoder\.layer0' is not layer<i> or layer<i>\.<module>"):
        paper_figures.layer_module_grid(["encoder.layer0"], [1.0])


def test_heatmaps_draw_a_panel_per_part_and_context_and_count_the_fixed_gates(tmp_path: Path):
    dependence = {
        "encoder": {"gates": ["layer0.ffn", "layer0.conv", "layer1.ffn"], "distinct_patterns": 3, "utterances": 12,
                    "keep_rate": {"fra asr": [1.0, 0.0, 0.5], "deu st_eng": [1.0, 0.0, 1.0]}},
        "decoder": {"gates": ["layer0"], "distinct_patterns": 1, "utterances": 12, "keep_rate": {"fra asr": [1.0]}},
    }
    path = tmp_path / "figures" / "gates.png"
    caption = paper_figures.heatmaps(dependence, "joint 0.3", path)
    assert caption == (
        "Keep rate per layer and module (yellow: always run; purple: always skipped). "
        "encoder: 3 distinct pattern(s) over 12 utterances, 1 gate(s) always on and 1 always off; the pattern "
        "changes with the context (largest keep-rate gap between two contexts 0.50); "
        "decoder: 1 distinct pattern(s) over 12 utterances, 1 gate(s) always on and 0 always off; "
        "the same modules run in every context."
    )
    assert png_size(path) == (528, 572)  # 2 contexts x 2 parts: (1.9 * 2 + 1) x (2.6 * 2) inches at 110 dpi


def test_curves_compare_methods_at_the_highest_common_target_and_times_within_the_latest_pass(tmp_path: Path):
    dense = row("dense fine-tuning", None, wer=19.0, bleu=32.0, seconds=0.4)
    rows = [row("joint", 0.3, wer=20.0, bleu=30.0, seconds=0.2), row("joint", 0.5, wer=25.0, bleu=25.0, seconds=0.1),
            row("magnitude", 0.3, wer=22.0, bleu=31.0, seconds=0.05, measured=None)]  # an earlier pass: not compared
    path = tmp_path / "curves.png"
    caption = paper_figures.curves(rows, dense, path)
    assert caption == (
        "Quality and time against the target sparsity (dashed: dense fine-tuning). "
        "mean ASR WER (%) at target 0.3: best joint, 20 (dense fine-tuning: 19); "
        "mean ST BLEU at target 0.3: best magnitude, 31 (dense fine-tuning: 32); "
        "decode s/utt (beam 5, nothing else running) at target 0.5: best joint, 0.1 (dense fine-tuning: 0.4)."
        f" Times: the models timed in the pass of {LATEST} only."
    )
    assert png_size(path) == (1430, 418)  # three panels side by side, 13 x 3.8 inches at 110 dpi
    untimed = paper_figures.curves([row("joint", 0.3, 20.0, 30.0)], row("dense fine-tuning", None, 19.0, 32.0), path)
    assert untimed == ("Quality and time against the target sparsity (dashed: dense fine-tuning). "
                       "mean ASR WER (%) at target 0.3: best joint, 20 (dense fine-tuning: 19); "
                       "mean ST BLEU at target 0.3: best joint, 30 (dense fine-tuning: 32).")
