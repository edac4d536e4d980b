"""RESULTS.md rendered from a small committed fixture of raw results (a subset of real grid runs):
tables with their baselines, significance, context dependence, figures, the grid's status."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from espnet_dynprune.analysis import paper_results

FIXTURE = Path(__file__).parent / "fixtures" / "paper_raw"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "results" / "raw"))


def test_the_page_has_every_table_with_its_baselines_statistics_and_figures(raw: Path):
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md", header="# Fixture\n")
    assert page.startswith("# Fixture\n")
    dynamic = page.split("## Context-aware dynamic pruning")[1].split("\n## ")[0]
    rows = [line for line in dynamic.split("CSV:")[0].splitlines() if line.startswith("| ")]
    labels = [r.split(" | ")[0][2:] for r in rows[1:]]
    assert labels[:2] == ["pretrained (no fine-tuning)", "dense fine-tuning"]  # the baselines in every table
    assert "context-aware (joint) 0.3" in labels and "context-aware (joint) 0.3, most frequent pattern" in labels
    assert "Difference against dense fine-tuning" in dynamic and "most frequent pattern forced" in dynamic
    assert "## Context dependence of the gates" in page and "std between contexts" in page
    for figure in ("results/figures/dynamic_vs_sparsity.png", "results/figures/gates_dynprune_both_0.3.png"):
        assert f"]({figure})" in page and (raw.parent.parent / figure).stat().st_size > 5000
    csv = (raw.parent / "tables" / "dynamic.csv").read_text().splitlines()
    assert csv[0].startswith("Experiment,Gates,") and len(csv) == len(rows)
    assert paper_results.render(raw, raw.parent.parent / "again.md", header="# Fixture\n") == page


def test_the_grid_status_names_what_is_not_run_and_leaves_stale_results_out(raw: Path):
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    assert "**Not run yet**" in page and "dynprune_both_0.9" in page.split("**Not run yet**")[1].split("\n")[0]
    assert "**Stale, left out** (made from another spec than the grid's now): stale_run." in page
    assert "stale run" not in page.split("**Stale")[1]  # its rows appear in no table


def test_clean_timing_fills_the_time_column_and_the_grid_time_stays_apart(raw: Path):
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    header = next(line for line in page.splitlines() if line.startswith("| Experiment | Gates |"))
    cells = header.split(" | ")
    assert "s/utt" in cells and "s/utt in grid" in cells
    dense = next(line for line in page.splitlines() if line.startswith("| dense fine-tuning |")).split(" | ")
    assert dense[cells.index("s/utt")] != "" and dense[cells.index("s/utt in grid")] != ""


def test_more_data_rows_stand_beside_the_same_experiment_without_the_extra_data(raw: Path):
    record = json.loads((raw / "dense.json").read_text())
    record["meta"].update(name="voxforge_dense", data="voxforge", table="more_data", method="dense fine-tuning, + VoxForge")
    utts = next(iter(record["decodes"].values()))["test_epst_fra_asr"]["utts"]
    first = next(iter(utts.values()))
    first["hyp"] = "un mot de trop " + first["hyp"]  # one utterance decoded differently
    (raw / "voxforge_dense.json").write_text(json.dumps(record))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    table = page.split("## More data")[1].split("\n## ")[0]
    labels = [line.split(" | ")[0][2:] for line in table.split("CSV:")[0].splitlines() if line.startswith("| ")]
    assert labels[1:] == ["dense fine-tuning, + VoxForge", "dense fine-tuning"]  # baselines first
    with_and_without = table.split("With the extra data minus without it")[1]
    row = next(line for line in with_and_without.splitlines() if line.startswith("| dense fine-tuning, + VoxForge"))
    assert row.split(" | ")[1].startswith("+")  # the WER difference: the extra words are insertions


def test_an_ablation_stands_beside_the_joint_model_it_changes(raw: Path):
    record = json.loads((raw / "dynprune_both_0.3.json").read_text())
    record["meta"].update(name="ablation_x_0.3", table="ablation", method="context-aware (joint), changed")
    (raw / "ablation_x_0.3.json").write_text(json.dumps(record))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    table = page.split("## What makes the gates context-dependent")[1].split("\n## ")[0]
    labels = [line.split(" | ")[0][2:] for line in table.split("CSV:")[0].splitlines() if line.startswith("| ")]
    assert labels.index("context-aware (joint) 0.3") < labels.index("context-aware (joint), changed 0.3")
    difference = table.split("Each ablation minus the context-aware joint model")[1].split("\n\n", 2)[1]
    row = next(line for line in difference.splitlines() if line.startswith("| context-aware (joint), changed 0.3 |"))
    cells = row.rstrip(" |").split(" | ")[1:]
    assert cells and set(cells) == {"identical"}  # the same hypotheses: no test
    assert "identical: the same hypothesis for every utterance" in page


def test_each_time_names_its_timing_pass_and_the_curve_keeps_to_the_latest(raw: Path):
    timing = json.loads((raw / "timing.json").read_text())
    for entry in timing["runs"]["dynprune_both_0.3"]["decodes"].values():
        entry["measured"] = "2026-12-02 15:41 UTC"  # a later pass than the others' (undated) one
    (raw / "timing.json").write_text(json.dumps(timing))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    assert "A = an undated earlier pass; B = 2026-12-02 15:41 UTC." in page
    dense = next(line for line in page.splitlines() if line.startswith("| dense fine-tuning | on |"))
    joint = next(line for line in page.splitlines() if line.startswith("| context-aware (joint) 0.3 | predicted |"))
    assert re.search(r"\| [0-9.]+ \(A\) \|", dense) and re.search(r"\| [0-9.]+ \(B\) \|", joint)
    assert "Times: the models timed in the pass of 2026-12-02 15:41 UTC only." in page


def test_a_time_of_a_model_other_than_the_scored_one_says_how_many_hypotheses_matched(raw: Path):
    timing = json.loads((raw / "timing.json").read_text())
    for entry in timing["runs"]["dense"]["decodes"].values():
        entry["same_hypotheses"] = 0.78  # a re-trained model: CPU training is not bitwise reproducible
    (raw / "timing.json").write_text(json.dumps(timing))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    dense = next(line for line in page.splitlines() if line.startswith("| dense fine-tuning | on |"))
    joint = next(line for line in page.splitlines() if line.startswith("| context-aware (joint) 0.3 | predicted |"))
    assert re.search(r"\| [0-9.]+ \(A; 78% same\) \|", dense)
    assert re.search(r"\| [0-9.]+ \(A\) \|", joint)  # all its hypotheses the grid's: nothing to say


def test_a_magnitude_row_shows_the_sparsity_of_its_weights(raw: Path):
    record = json.loads((raw / "dense.json").read_text())
    record["meta"].update(name="magnitude_both_0.1", table="baselines", method="unstructured magnitude",
                          part="both", sparsity_target=0.1)
    for test_set in next(iter(record["decodes"].values())).values():
        test_set["weight_sparsity"] = {"encoder": 0.08, "decoder": 0.125}
    (raw / "magnitude_both_0.1.json").write_text(json.dumps(record))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    header = next(line for line in page.splitlines() if line.startswith("| Experiment | Gates |")).split(" | ")
    row = next(line for line in page.splitlines() if line.startswith("| unstructured magnitude 0.1 |")).split(" | ")
    assert row[header.index("enc sparsity")] == "0.080 (weights)"
    assert row[header.index("dec sparsity")] == "0.125 (weights)"
    dense = next(line for line in page.splitlines() if line.startswith("| dense fine-tuning |")).split(" | ")
    assert dense[header.index("enc sparsity")] == ""


def test_a_zero_bleu_difference_between_other_hypotheses_is_not_given_sacrebleus_p_value(raw: Path):
    joint = json.loads((raw / "dynprune_both_0.3.json").read_text())
    ablation = json.loads(json.dumps(joint))
    ablation["meta"].update(name="ablation_x_0.3", table="ablation", method="context-aware (joint), changed")
    for record, word in ((joint, "qqq"), (ablation, "xxx")):  # one word wrong in each, differently
        utts = record["decodes"]["decode_beam5_gates_predicted"]["test_epst_fra_st_eng"]["utts"]
        first = next(iter(utts.values()))
        first["hyp"] = " ".join([word, *first["hyp"].split()[1:]])
    (raw / "dynprune_both_0.3.json").write_text(json.dumps(joint))
    (raw / "ablation_x_0.3.json").write_text(json.dumps(ablation))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    difference = page.split("Each ablation minus the context-aware joint model")[1].split("\n\n", 2)[1]
    row = next(line for line in difference.splitlines() if line.startswith("| context-aware (joint), changed 0.3 |"))
    assert "+0.00 (same BLEU)" in row and "p=" not in row


def test_two_gated_rows_of_one_label_keep_apart_in_the_context_tables(raw: Path):
    low = json.loads((raw / "dynprune_both_0.3.json").read_text())
    low["meta"].update(name="lowres_dynprune_both_0.3", table="lowres", data="lowres")
    (raw / "lowres_dynprune_both_0.3.json").write_text(json.dumps(low))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md")
    context = page.split("## Context dependence of the gates")[1]
    labels = {line.split(" | ")[0][2:] for line in context.splitlines() if line.startswith("| context-aware")}
    assert {"context-aware (joint) 0.3", "context-aware (joint) 0.3 [lowres]"} <= labels


HEADER = """# Fixture

Setup text.

<!-- environment -->
- pytorch version: `2.11.0` (by hand)

<!-- caption:dynamic -->
The joint model holds up.
"""
ENVIRONMENT = {"platform": "Linux-6.8-x86_64", "cpu": "AMD EPYC 7B13", "threads": 2, "python": "3.12.3",
               "torch": "2.11.0", "espnet": "202511", "gpu": None, "commit": "0123456789ab+dirty"}


def _environments(page: str) -> str:
    return page.split("## Environments\n")[1].split("\n## ")[0].split("Setup text.")[0]


def test_without_environment_records_the_header_s_hand_recorded_environment_stands_in(raw: Path):
    stale = json.loads((raw / "stale_run.json").read_text())
    stale["meta"]["finished"] = "2027-01-01T00:00:00"  # a newer result, but a stale one: not on the page
    (raw / "stale_run.json").write_text(json.dumps(stale))
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md", header=HEADER)
    assert page.startswith("# Fixture\n\n## Environments\n")  # first after the title, before the setup
    block = _environments(page)
    assert "- date: `2026-12-02T08:54:22` (the newest raw result)" in block
    assert "- all 3 raw results predate the environment record: recorded by hand, not by the grid:" in block
    assert "  - pytorch version: `2.11.0` (by hand)" in block
    assert "<!--" not in page and "recorded with" not in block
    without = paper_results.render(raw, raw.parent.parent / "RESULTS.md", header="# Fixture\n")
    assert "predate the environment record: no environment is known." in without


def test_each_distinct_environment_record_is_listed_with_its_results(raw: Path):
    for name, commit in (("dense", "0123456789ab+dirty"), ("pretrained", "0123456789ab+dirty"),
                         ("dynprune_both_0.3", "ba9876543210")):
        record = json.loads((raw / f"{name}.json").read_text())
        record["meta"]["environment"] = {**ENVIRONMENT, "commit": commit}
        (raw / f"{name}.json").write_text(json.dumps(record))
    block = _environments(paper_results.render(raw, raw.parent.parent / "RESULTS.md", header=HEADER))
    assert "- recorded with 2 of 3 (dense, pretrained):" in block
    assert "- recorded with 1 of 3 (dynprune_both_0.3):" in block
    first, second = block.split("- recorded with ")[1:]
    assert "  - git commit: `0123456789ab+dirty`" in first and "  - git commit: `ba9876543210`" in second
    for line in ("  - pytorch version: `2.11.0`", "  - espnet version: `202511`", "  - python version: `3.12.3`",
                 "  - CPU: `AMD EPYC 7B13`", "  - torch threads: `2`", "  - GPU: `none`"):
        assert line in first
    assert "by hand" not in block  # every result has its record: the fallback is not needed


def test_each_table_has_its_command_and_the_header_s_conclusion_and_a_misspelt_part_fails(raw: Path):
    page = paper_results.render(raw, raw.parent.parent / "RESULTS.md", header=HEADER)
    dynamic = page.split("## Context-aware dynamic pruning")[1].split("\n## ")[0]
    assert dynamic.startswith(" (encoder, decoder, joint) at each target sparsity\n\n```sh\npython -m "
                              "espnet_dynprune.recipe.grid --grid conf/paper_grid.yaml --only dynprune_both_0.3 && "
                              "python -m espnet_dynprune.recipe.timing --utts_per_set 3 --repeats 1\n```\n")
    assert dynamic.rstrip().endswith("**Conclusion:** The joint model holds up.")
    assert "**Conclusion:**" not in page.split("## Context-aware dynamic pruning")[0]  # no caption for baseline
    with pytest.raises(ValueError, match="caption:dynamc"):
        paper_results.render(raw, raw.parent.parent / "RESULTS.md",
                             header=HEADER.replace("caption:dynamic", "caption:dynamc"))


def test_a_sweep_becomes_one_pattern_only_where_it_matches_nothing_else():
    grid = ["dyn_0.1", "dyn_0.5", "dyn_extra_0.5", "static_0.7", "static_0.7_dyn", "other_0.1", "other_0.3"]
    assert paper_results.name_patterns(["other_0.3", "other_0.1", "other_0.3"], grid) == ["other_*"]
    assert paper_results.name_patterns(["dyn_0.1", "dyn_0.5"], grid) == ["dyn_0.1", "dyn_0.5"]  # dyn_* runs more
    assert paper_results.name_patterns(["dyn_extra_0.5", "dyn_0.5", "dyn_0.1"], grid) == ["dyn_*"]
    assert paper_results.name_patterns(["static_0.7", "static_0.7_dyn", "other_0.1"], grid) == \
        ["static_0.7", "static_0.7_dyn", "other_0.1"]  # one of a sweep: its own name
