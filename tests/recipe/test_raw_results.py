"""The raw_results command: the raw results whose experiment is still in exp/ collected again, their meta kept."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from espnet_dynprune.recipe import raw_results as raw_results_command
from tests.builders.stage_outputs import write_json, write_lines

SETTINGS = {"gates": "predicted", "beam_size": 5, "ctc_weight": 0.0, "maxlenratio": 0.0, "minlenratio": 0.0}


def decoded(exp: Path, data_dir: Path, hyps: dict) -> None:
    """What stages 12-13 leave of one decode of test set ``test_fra_asr`` (and the test set's ``text``)."""
    data_dir.mkdir(parents=True)
    write_lines(data_dir / "text", ["a <fra><asr><notimestamps> un", "b <fra><asr><notimestamps> deux"])
    test_dir = exp / "decode_beam5_gates_predicted" / "test_fra_asr"
    write_json(test_dir / "decode_summary.json", {
        "num_utts": 2, "seconds_per_utt": 0.5, "sparsity": {"encoder": 0.5}, "model": {"parameters": 1000},
        "data_dir": str(data_dir), "settings": {**SETTINGS, "lang_sym": "<fra>", "task_sym": "<asr>"}})
    write_json(test_dir / "result.json", {"task": "asr", "wer": 50.0, "num_utts": 2})
    write_json(test_dir / "flops.json", {"gflops": {"total": 1.5}})
    write_lines(test_dir / "text", [f"{u} {h}" for u, h in hyps.items()])
    write_lines(test_dir / "gates.jsonl", [json.dumps({"utt": u, "gates": {"encoder": {"layer0.ffn": True}}})
                                           for u in hyps])


@pytest.fixture
def recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recipe dir (the working directory): raw results of ``joint`` (still in exp/, decoded again since) and
    ``gone`` (its exp/ dir removed)."""
    monkeypatch.chdir(tmp_path)
    raw = tmp_path / "results" / "raw"
    write_json(raw / "joint.json", {"meta": {"name": "joint", "table": "dynamic", "sparsity_target": 0.5},
                                    "decodes": {}})
    write_json(raw / "gone.json", {"meta": {"name": "gone"}, "decodes": {}})
    decoded(tmp_path / "exp" / "joint", tmp_path / "dump" / "raw" / "test_fra_asr", {"a": "un", "b": "trois"})
    return tmp_path


def test_collects_again_what_exp_still_holds_and_leaves_the_rest(recipe, caplog):
    with caplog.at_level(logging.INFO):
        assert raw_results_command.main([]) == ["joint"]  # the defaults: results/raw of the recipe dir "."
    assert "collected again: ['joint']" in caplog.messages
    raw = recipe / "results" / "raw"
    joint = json.loads((raw / "joint.json").read_text(encoding="utf-8"))
    assert joint["meta"] == {"name": "joint", "table": "dynamic", "sparsity_target": 0.5}
    entry = joint["decodes"]["decode_beam5_gates_predicted"]["test_fra_asr"]
    assert {u: r["hyp"] for u, r in entry["utts"].items()} == {"a": "un", "b": "trois"}
    assert entry["metrics"] == {"wer": 50.0, "num_utts": 2} and entry["data_dir"] == "dump/raw/test_fra_asr"
    assert json.loads((raw / "gone.json").read_text(encoding="utf-8")) == {"meta": {"name": "gone"}, "decodes": {}}
    assert json.loads((raw / "references" / "test_fra_asr.json").read_text(encoding="utf-8")) == {"a": "un",
                                                                                                 "b": "deux"}


def test_the_dirs_given_are_used(recipe, tmp_path_factory):
    elsewhere, raw = tmp_path_factory.mktemp("elsewhere"), str(recipe / "results" / "raw")
    assert raw_results_command.main(["--raw_dir", raw, "--recipe_dir", str(elsewhere)]) == []  # no exp/ there
    assert raw_results_command.main(["--raw_dir", raw, "--recipe_dir", str(recipe)]) == ["joint"]


def test_an_experiment_decoded_only_in_part_is_named(recipe):
    (recipe / "exp" / "joint" / "decode_beam5_gates_predicted" / "test_fra_asr" / "flops.json").unlink()
    with pytest.raises(ValueError, match=r"test_fra_asr/flops.json: .* \(run stages 12-13 of this experiment to"):
        raw_results_command.main([])


def test_a_raw_dir_without_results_is_named(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(FileNotFoundError, match="raw holds no raw result"):
        raw_results_command.main(["--raw_dir", str(tmp_path / "raw"), "--recipe_dir", str(tmp_path)])
