"""The gate_patterns command: the most frequent gate pattern of a decode written, and printed part by part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from espnet_dynprune.analysis.gate_patterns import read_pattern
from espnet_dynprune.recipe import gate_patterns as gate_patterns_command


def record(encoder: str, decoder: str) -> dict:
    return {"encoder": {f"layer{i}.ffn1": b == "1" for i, b in enumerate(encoder)},
            "decoder": {f"layer{i}": b == "1" for i, b in enumerate(decoder)}}


def decode_root(path: Path, test_sets: dict) -> Path:
    """A stage-12 decode dir: one ``gates.jsonl`` per test set."""
    for name, records in test_sets.items():
        (path / name).mkdir(parents=True)
        (path / name / "gates.jsonl").write_text(
            "".join(json.dumps({"utt": f"{name}-{i}", "gates": r}) + "\n" for i, r in enumerate(records)))
    (path / "logdir").mkdir()  # no gates.jsonl: not a test set
    return path


def test_the_pattern_over_every_test_set_is_written_and_printed(tmp_path, capsys):
    root = decode_root(tmp_path / "decode", {
        "test_fra_asr": [record("1011", "10"), record("1011", "01")],
        "test_deu_asr": [record("0011", "01"), record("1011", "11")],
    })
    pattern = gate_patterns_command.main(["--decode_root", str(root), "--write_most_frequent",
                                          str(tmp_path / "conf" / "pattern.json")])
    assert pattern == record("1011", "01") == read_pattern(tmp_path / "conf" / "pattern.json")
    assert capsys.readouterr().out == "encoder: 1011 (1 of 4 skipped)\ndecoder: 01 (1 of 2 skipped)\n"


def test_a_decode_without_gates_is_named(tmp_path, capsys):
    (tmp_path / "decode" / "test_fra_asr").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="decode has no test set with a gates.jsonl: decode it first"):
        gate_patterns_command.main(["--decode_root", str(tmp_path / "decode"), "--write_most_frequent",
                                    str(tmp_path / "p.json")])
    root = decode_root(tmp_path / "dense", {"test_fra_asr": [{}, {}]})  # a model without gates records none
    with pytest.raises(ValueError, match=r"no gate decisions to choose a pattern from \(a model without gates\?\)"):
        gate_patterns_command.main(["--decode_root", str(root), "--write_most_frequent", str(tmp_path / "p.json")])
    assert not (tmp_path / "p.json").exists() and capsys.readouterr().out == ""
