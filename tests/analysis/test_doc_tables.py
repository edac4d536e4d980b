"""Docs tables rendered from benchmark JSON: what a marker becomes, and the errors that name the page."""

import json
from pathlib import Path

import pytest

from espnet_dynprune.analysis.doc_tables import fill

MACHINE = {"platform": "Linux-x86_64", "threads": 2, "torch": "2.11.0", "espnet": "202611", "gpu": None}
RESULT = {"encoder_s": 1.0, "decoder_s": 2.0, "total_s": 3.0, "utts_per_s": 2.667, "speedup": 1.0,
          "same_hypotheses_as_first": 8, "utterances": 8}


def _write_ladder(root: Path, total_s: float) -> str:
    dense = dict(RESULT, total_s=total_s, speedup=3.0 / total_s)
    report = {"settings": {}, "machine": MACHINE,
              "sizes": {"base": {"stock:1:fp32:fp32": RESULT, "dense:1:fp32:fp32": dense}}}
    (root / "ladder.json").write_text(json.dumps(report), encoding="utf-8")
    return "ladder.json"


def _page(path: str, body: str = "") -> str:
    return (f"# Speed\n\n<!-- table: machine {path} -->\n<!-- /table -->\n\n"
            f"<!-- table: throughput {path} base -->\n{body}<!-- /table -->\ntext after\n")


def test_markers_are_filled_from_the_json_and_the_text_around_them_stays(tmp_path):
    page = fill(_page(_write_ladder(tmp_path, 1.5)), tmp_path)
    assert "Measured with ESPnet 202611, torch 2.11.0, 2 threads, no GPU" in page
    assert "| dense:1:fp32:fp32 | 1.00 | 2.00 | 1.50 |" in page
    assert "2.00x" in page  # the ratio the ladder wrote
    assert page.startswith("# Speed\n") and page.endswith("<!-- /table -->\ntext after\n")
    assert "### OWSM" not in page  # the page has its own headings
    assert fill(page, tmp_path) == page  # current: rendering again changes nothing


def test_a_new_measurement_makes_the_page_stale(tmp_path):
    page = fill(_page(_write_ladder(tmp_path, 1.5)), tmp_path)
    _write_ladder(tmp_path, 1.2)
    fresh = fill(page, tmp_path)
    assert fresh != page and "| 1.20 |" in fresh


def test_an_unknown_renderer_names_the_page_and_the_marker(tmp_path):
    with pytest.raises(ValueError, match=r"docs/x.md: table marker 'tabel a.json': no renderer 'tabel'"):
        fill("<!-- table: tabel a.json -->\n<!-- /table -->\n", tmp_path, where="docs/x.md")


def test_a_missing_json_or_size_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.json"):
        fill(_page("gone.json"), tmp_path)
    path = _write_ladder(tmp_path, 1.5)
    with pytest.raises(KeyError, match=r"ladder.json: no size '1b'"):
        fill(f"<!-- table: throughput {path} 1b -->\n<!-- /table -->\n", tmp_path)


def test_precision_table_has_a_column_per_test_set(tmp_path):
    for name, metric in (("fra_asr", "wer"), ("fra_st_eng", "bleu")):
        results = {"8:fp32:fp32": {metric: 3.0, "same_hypotheses": True},
                   "8:int8:int8": {metric: 4.0, "same_hypotheses": name == "fra_asr"}}
        (tmp_path / f"p_{name}.json").write_text(json.dumps(
            {"settings": {"data_dir": f"dump/raw/test_epst_{name}"}, "results": results}), encoding="utf-8")
    page = fill("<!-- table: precision p_*.json -->\n<!-- /table -->\n", tmp_path)
    assert "| batch:encoder:decoder | WER test_epst_fra_asr | BLEU test_epst_fra_st_eng |" in page
    assert "| 8:int8:int8 | 4.00 | 4.00 | 1 of 2 |" in page


def test_the_machine_line_names_the_cpu_and_the_commit_where_recorded(tmp_path):
    report = {"machine": {**MACHINE, "cpu": "AMD EPYC 7B13", "commit": "abc123+dirty"}}
    (tmp_path / "m.json").write_text(json.dumps(report), encoding="utf-8")
    page = fill("<!-- table: machine m.json -->\n<!-- /table -->\n", tmp_path)
    assert "no GPU, on AMD EPYC 7B13, `Linux-x86_64`, code at commit abc123+dirty (raw: `m.json`)." in page


def test_a_whisper_encoder_table_is_rendered_and_a_missing_model_named(tmp_path):
    row = {"params_M": 7.6, "file_MB": 33.0, "gmac": 2.0, "pad_gmac": 0.0, "time_s": 0.5, "spread": 0.02,
           "time_ratio": 1.0, "gmac_ratio": 1.0, "time_over_gmac": 1.0, "param_reduction": 0.0}
    pruned = dict(row, params_M=3.0, time_s=0.2, time_ratio=0.4, gmac_ratio=0.35, time_over_gmac=1.14,
                  param_reduction=0.6, sparsity=0.7, realised_sparsity=0.7, max_abs_diff_vs_masked=1e-6)
    report = {"settings": {}, "machine": MACHINE,
              "whisper": {"tiny.en": {"results": {"dense (ESPnet)": row, "pruned 0.7": pruned}}}}
    (tmp_path / "w.json").write_text(json.dumps(report), encoding="utf-8")
    page = fill("<!-- table: static_bench w.json whisper:tiny.en -->\n<!-- /table -->\n", tmp_path)
    assert "| pruned 0.7 | 0.700 | 3.00 |" in page
    assert "| time ratio / GMAC ratio, pruned 0.7 | <= 1.1 | 1.140 | NO |" in page
    with pytest.raises(KeyError, match=r"w.json: no Whisper 'base' \(has \['tiny.en'\]\)"):
        fill("<!-- table: static_bench w.json whisper:base -->\n<!-- /table -->\n", tmp_path)
