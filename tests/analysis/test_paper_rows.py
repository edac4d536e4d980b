"""The paper's table rows from raw results: means over test sets, clean timing, labels, order and lookups."""

from __future__ import annotations

from typing import Optional

import pytest

from espnet_dynprune.analysis import paper_rows
from espnet_dynprune.analysis.paper_rows import EARLIER_PASS, Row
from tests.builders.stage_outputs import raw_entry, raw_record

JOINT = "context-aware (joint)"
DECODES = {
    "decode_beam5_gates_predicted": {
        "test_epst_fra_asr": raw_entry("fra", "asr", 20.0, seconds=0.4, gflops=1.0,
                                       sparsity={"encoder": 0.3, "decoder": 0.25}),
        "test_epst_fra_st_eng": raw_entry("fra", "st_eng", 30.0, seconds=0.6, gflops=3.0,
                                          sparsity={"encoder": 0.5, "decoder": 0.75}),
    },
    "decode_beam5_gates_most_frequent": {"test_epst_fra_asr": raw_entry("fra", "asr", 21.0)},
    "decode_beam5_gates_on": {},  # not decoded: no row
}


def one_row(name: str, table: str, method: str, part: str, target: Optional[float] = None, gates: str = "predicted",
            data: str = "epst", timing: Optional[dict] = None) -> Row:
    """The row of an experiment decoded once (with ``gates``) on one French ASR test set."""
    decodes = {f"decode_beam5_gates_{gates}": {"test_epst_fra_asr": raw_entry("fra", "asr", 20.0)}}
    return paper_rows.rows_of(raw_record(name, table, method, part, decodes, target, data=data), timing)[0]


def test_a_row_per_decoding_holds_the_means_over_its_test_sets():
    record = raw_record("dynprune_both_0.3", "dynamic", JOINT, "both", DECODES, target=0.3, wall_seconds=600.0)
    most_frequent, predicted = paper_rows.rows_of(record)  # in decode-name order
    assert (predicted.experiment, predicted.gates, predicted.data) == ("dynprune_both_0.3", "predicted", "epst")
    assert predicted.scores == {"test_epst_fra_asr": 20.0, "test_epst_fra_st_eng": 30.0}
    assert predicted.tasks == {"test_epst_fra_asr": "asr", "test_epst_fra_st_eng": "st_eng"}
    assert predicted.seconds_per_utt == pytest.approx(0.5) and predicted.gflops == pytest.approx(2.0)
    assert predicted.gflops_as_run == pytest.approx(4.0) and predicted.gflops_reprojected is None
    assert (predicted.enc_sparsity, predicted.dec_sparsity) == (pytest.approx(0.4), pytest.approx(0.5))
    assert (predicted.params_m, predicted.wall_minutes, predicted.resumed) == (4.0, 10.0, False)
    assert predicted.enc_weight_sparsity is None and not predicted.amortised
    assert (predicted.mean_score("asr"), predicted.mean_score("st")) == (20.0, 30.0)
    assert most_frequent.mean_score("st") is None
    assert predicted.label == "context-aware (joint) 0.3"
    assert most_frequent.label == "context-aware (joint) 0.3, most frequent pattern"
    assert paper_rows.gates_of("decode_beam5_gates_most_frequent") == "most_frequent"
    assert paper_rows.gates_of("decode_plain") == "decode_plain"


def test_clean_timing_counts_only_for_the_spec_it_timed():
    record = raw_record("joint", "dynamic", JOINT, "both", DECODES, target=0.3, spec_hash="aaaa")
    timing = {"spec_hash": "aaaa", "decodes": {"decode_beam5_gates_predicted": {"seconds_per_utt": 0.25,
                                                                                "same_hypotheses": 0.9}}}
    most_frequent, predicted = paper_rows.rows_of(record, timing)
    assert (predicted.clean_seconds_per_utt, predicted.timing_pass, predicted.timed_same_hypotheses) == (
        0.25, EARLIER_PASS, 0.9)
    assert most_frequent.clean_seconds_per_utt is None and most_frequent.timing_pass is None
    stale = paper_rows.rows_of(record, {**timing, "spec_hash": "bbbb"})  # timed before the spec changed
    assert [r.clean_seconds_per_utt for r in stale] == [None, None]
    [row] = [r for r in paper_rows.all_rows([record], {"runs": {"joint": timing}}) if r.gates == "predicted"]
    assert row.clean_seconds_per_utt == 0.25
    dated = {"decode_beam5_gates_predicted": {"seconds_per_utt": 0.2, "measured": "2026-12-02 15:41 UTC"}}
    later = one_row("a", "dynamic", JOINT, "both", 0.5, timing={"spec_hash": "0123456789abcdef", "decodes": dated})
    earlier = one_row("b", "dynamic", JOINT, "both", 0.5,
                      timing={"spec_hash": "0123456789abcdef", "decodes": {"decode_beam5_gates_predicted": {}}})
    assert paper_rows.timing_passes([later, earlier, later]) == [EARLIER_PASS, "2026-12-02 15:41 UTC"]


def test_a_table_lists_its_setup_s_baselines_first_then_its_runs_by_method_target_and_gates():
    rows = [
        one_row("joint_0.5", "dynamic", JOINT, "both", 0.5),
        one_row("joint_0.3", "dynamic", JOINT, "both", 0.3, gates="most_frequent"),
        one_row("joint_0.3", "dynamic", JOINT, "both", 0.3, gates="predicted"),
        one_row("joint_0.3", "dynamic", JOINT, "both", 0.3, gates="on"),
        one_row("dense", "baseline", "dense fine-tuning", "none"),
        one_row("pretrained", "baseline", "pretrained (no fine-tuning)", "none", gates="on"),
        one_row("voxforge_dense", "more_data", "dense fine-tuning", "none", data="voxforge"),
        one_row("decoder_0.3", "decoder", "context-aware (decoder)", "decoder", 0.3),
    ]
    table = paper_rows.table_rows(rows, "dynamic")
    assert [(r.label, r.gates) for r in table] == [
        ("pretrained (no fine-tuning)", "on"), ("dense fine-tuning", "predicted"),
        ("context-aware (joint) 0.3", "on"), ("context-aware (joint) 0.3", "predicted"),
        ("context-aware (joint) 0.3, most frequent pattern", "most_frequent"),
        ("context-aware (joint) 0.5", "predicted"),
    ]  # fmt: skip
    assert rows[4].is_baseline and not rows[0].is_baseline


def test_each_row_finds_what_it_is_measured_against():
    dense = one_row("dense", "baseline", "dense fine-tuning", "none")
    joint = one_row("dynprune_both_0.3", "dynamic", JOINT, "both", 0.3)
    ablation = one_row("ablation_x_0.3", "ablation", "context-aware (joint), changed", "both", 0.3)
    more = one_row("voxforge_dense", "more_data", "dense fine-tuning, + VoxForge", "none", data="voxforge")
    rows = [more, ablation, joint, dense]
    assert paper_rows.baseline(rows, "epst") is dense and paper_rows.baseline(rows, "lowres") is None
    assert paper_rows.without(rows, more) is dense and paper_rows.without(rows, dense) is None
    assert paper_rows.joint_model(rows, ablation) is joint and paper_rows.joint_model(rows, joint) is None
    other_target = one_row("ablation_x_0.5", "ablation", "context-aware (joint), changed", "both", 0.5)
    assert paper_rows.joint_model(rows, other_target) is None


def test_test_sets_are_ordered_by_language_asr_first_and_named_by_their_metric():
    sets = {"test_epst_fra_st_eng": raw_entry("fra", "st_eng", 30.0),
            "test_epst_fra_asr": raw_entry("fra", "asr", 20.0),
            "test_fleurs_deu_asr": raw_entry("deu", "asr", 25.0)}
    rows = paper_rows.rows_of(raw_record("dense", "baseline", "dense fine-tuning", "none", {"decode_gates_on": sets}))
    assert paper_rows.test_set_order(rows) == ["test_fleurs_deu_asr", "test_epst_fra_asr", "test_epst_fra_st_eng"]
    assert paper_rows.column_name(rows, "test_epst_fra_st_eng") == "fra→eng BLEU"
    assert paper_rows.column_name(rows, "test_fleurs_deu_asr") == "deu WER"
    assert paper_rows.column_name(rows, "test_unknown") == "test_unknown"
