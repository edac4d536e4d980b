"""Raw results: what is kept of a decoded experiment, the committed file and its references, and their refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

import pytest

from espnet_dynprune.analysis import raw_results
from tests.builders.stage_outputs import write_json, write_lines

HYPS = {"b": "<fra><asr><notimestamps> deux", "é": "trois", "a": "un"}  # not in name order
REFS = ["b <fra><asr><notimestamps> deux", "a <fra><asr><notimestamps> un", "é <fra><asr><notimestamps> trois"]
GATES = {"a": {"encoder": {"layer0.ffn": True, "layer1.ffn": False}, "decoder": {"layer0": True}},
         "b": {"encoder": {"layer0.ffn": False, "layer1.ffn": False}, "decoder": {"layer0": True}},
         "é": {"encoder": {"layer0.ffn": True, "layer1.ffn": True}, "decoder": {"layer0": False}}}
MARGINS = {"a": {"encoder": [0.5, -1.25], "decoder": [2.0]}}  # predicted for one utterance, forced for the others
SETTINGS = {"gates": "predicted", "beam_size": 5, "ctc_weight": 0.0, "maxlenratio": 0.0, "minlenratio": 0.0}


def write_decoded(test_dir: Path, data_dir: Path, hyps: Optional[Dict[str, str]] = None) -> Path:
    """What stages 12-13 leave in a test set's decode dir (and the test set's ``text`` in ``data_dir``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    write_lines(data_dir / "text", REFS)
    write_json(test_dir / "decode_summary.json", {
        "num_utts": 3, "seconds_per_utt": 0.5, "sparsity": {"encoder": 0.25}, "model": {"parameters": 1000},
        "data_dir": str(data_dir), "settings": {**SETTINGS, "lang_sym": "<fra>", "task_sym": "<asr>",
                                                "s2t_train_config": "exp/x/config.yaml"},
    })  # fmt: skip
    write_json(test_dir / "result.json", {"task": "asr", "wer": 12.5, "cer": 5.0, "num_utts": 3, "ref_text": "t"})
    write_json(test_dir / "flops.json", {"gflops": {"total": 1.5}, "gflops_as_run": {"total": 3.0}})
    write_lines(test_dir / "text", [f"{u} {h}" for u, h in (hyps or HYPS).items()])
    records = [{"utt": u, "gates": g, **({"margins": MARGINS[u]} if u in MARGINS else {})} for u, g in GATES.items()]
    write_lines(test_dir / "gates.jsonl", map(json.dumps, records))
    return test_dir


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """A recipe dir with experiment ``joint``: one decode of test set ``test_fra_asr`` (and a non-test dir)."""
    decode = tmp_path / "exp" / "joint" / "decode_beam5_gates_predicted"
    write_decoded(decode / "test_fra_asr", tmp_path / "dump" / "raw" / "test_fra_asr")
    (decode / "logdir").mkdir()  # no decode_summary.json: not a test set
    return tmp_path


def test_a_test_set_keeps_scores_summary_and_each_utterance_s_hypothesis_gates_and_margins(recipe: Path):
    record = raw_results.collect_experiment(recipe / "exp" / "joint", {"name": "joint"})
    assert record["meta"] == {"name": "joint"} and list(record["decodes"]) == ["decode_beam5_gates_predicted"]
    entry = record["decodes"]["decode_beam5_gates_predicted"]["test_fra_asr"]
    assert entry == {
        "language": "fra", "task": "asr", "metrics": {"wer": 12.5, "cer": 5.0, "num_utts": 3},
        "num_utts": 3, "seconds_per_utt": 0.5, "seconds_per_utt_is": None, "encoder_seconds_per_utt": None,
        "decoder_seconds_per_utt": None, "total_seconds": None, "sparsity": {"encoder": 0.25}, "sparsity_flops": None,
        "weight_sparsity": None, "model": {"parameters": 1000},
        "gflops": {"total": 1.5}, "gflops_reprojected": None, "gflops_as_run": {"total": 3.0},
        "settings": SETTINGS, "data_dir": str(recipe / "dump" / "raw" / "test_fra_asr"),
        "gate_names": {"encoder": ["layer0.ffn", "layer1.ffn"], "decoder": ["layer0"]},
        "utts": {"a": {"hyp": "un", "gates": {"encoder": "10", "decoder": "1"}, "margins": MARGINS["a"]},
                 "b": {"hyp": "deux", "gates": {"encoder": "00", "decoder": "1"}},
                 "é": {"hyp": "trois", "gates": {"encoder": "11", "decoder": "0"}}},
    }  # fmt: skip
    assert list(entry["utts"]) == ["a", "b", "é"]


def test_an_incomplete_test_set_or_experiment_is_named(recipe: Path, tmp_path: Path):
    test_dir = recipe / "exp" / "joint" / "decode_beam5_gates_predicted" / "test_fra_asr"
    write_lines(test_dir / "text", ["a un", "b deux"])
    with pytest.raises(ValueError, match=f"{test_dir}: text and gates.jsonl hold different utterances"):
        raw_results.collect_test_set(test_dir)
    (test_dir / "flops.json").unlink()
    with pytest.raises(ValueError, match=r"flops.json: .*\(run stages 12-13 of this experiment to the end\)"):
        raw_results.collect_test_set(test_dir)
    (tmp_path / "exp" / "empty" / "decode_x" / "logdir").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"empty has no decoded test set \(decode_\*/<test_set>/decode_summary.json\)"):
        raw_results.collect_experiment(tmp_path / "exp" / "empty", {"name": "empty"})


def test_the_written_result_loads_back_with_relative_data_dirs_and_its_references_beside_it(recipe: Path):
    raw = recipe / "results" / "raw"
    record = raw_results.collect_experiment(recipe / "exp" / "joint", {"name": "joint", "spec_hash": "aaaa"})
    assert raw_results.write(record, raw, recipe) == raw / "joint.json"
    raw_results.write_manifest(raw, "conf/grid.yaml", [{"name": "joint", "spec_hash": "aaaa"}])
    raw_results.write_timing(raw, {"settings": {"repeats": 1}, "runs": {}})
    [loaded] = raw_results.load(raw)  # neither grid.json nor timing.json is an experiment
    assert loaded == json.loads(json.dumps(record))
    assert loaded["decodes"]["decode_beam5_gates_predicted"]["test_fra_asr"]["data_dir"] == "dump/raw/test_fra_asr"
    assert raw_results.references(raw, "test_fra_asr") == {"b": "deux", "a": "un", "é": "trois"}
    assert raw_results.read_manifest(raw) == {"grid": "conf/grid.yaml",
                                              "experiments": [{"name": "joint", "spec_hash": "aaaa"}]}
    assert raw_results.read_timing(raw) == {"settings": {"repeats": 1}, "runs": {}}
    write_lines(recipe / "dump" / "raw" / "test_fra_asr" / "text", [*REFS[:2], "é <fra><asr><notimestamps> quatre"])
    changed = raw_results.collect_experiment(recipe / "exp" / "joint", {"name": "joint"})
    with pytest.raises(ValueError, match="test_fra_asr.json holds other references than .*: the test set changed"):
        raw_results.write(changed, raw, recipe)


def test_a_raw_dir_without_results_or_with_a_foreign_file_is_refused(tmp_path: Path):
    assert raw_results.read_manifest(tmp_path) is None and raw_results.read_timing(tmp_path) == {}
    with pytest.raises(FileNotFoundError, match="holds no raw result"):
        raw_results.load(tmp_path)
    write_json(tmp_path / "other.json", {"name": "not a raw result"})
    with pytest.raises(ValueError, match=r"other.json is not a raw result \(no 'meta'/'decodes'\)"):
        raw_results.load(tmp_path)


def test_recollecting_redoes_the_results_whose_experiment_is_here_and_keeps_their_meta(recipe: Path):
    raw = recipe / "results" / "raw"
    meta = {"name": "joint", "table": "dynamic"}
    raw_results.write(raw_results.collect_experiment(recipe / "exp" / "joint", meta), raw, recipe)
    write_json(raw / "gone.json", {"meta": {"name": "gone"}, "decodes": {}})  # its exp/ dir was removed
    test_dir = recipe / "exp" / "joint" / "decode_beam5_gates_predicted" / "test_fra_asr"
    write_decoded(test_dir, recipe / "dump" / "raw" / "test_fra_asr", hyps={**HYPS, "a": "une"})
    assert raw_results.recollect(raw, recipe) == ["joint"]
    again = json.loads((raw / "joint.json").read_text(encoding="utf-8"))
    assert again["meta"] == meta
    assert again["decodes"]["decode_beam5_gates_predicted"]["test_fra_asr"]["utts"]["a"]["hyp"] == "une"
    assert json.loads((raw / "gone.json").read_text(encoding="utf-8")) == {"meta": {"name": "gone"}, "decodes": {}}
