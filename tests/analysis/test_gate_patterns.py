"""Gate patterns: the most frequent one, distinct counts and mutual information with the context."""

from __future__ import annotations

import json

import pytest

from espnet_dynprune.analysis import gate_patterns


def record(enc: str, dec: str = "1") -> dict:
    return {"encoder": {f"layer{i}.ffn1": b == "1" for i, b in enumerate(enc)},
            "decoder": {f"layer{i}.ffn": b == "1" for i, b in enumerate(dec)}}


def test_the_most_frequent_pattern_is_chosen_per_part_and_written(tmp_path):
    records = [record("10", "1"), record("10", "0"), record("01", "0")]
    assert gate_patterns.most_frequent(records) == record("10", "0")
    root = tmp_path / "decode"
    for name, recs in (("a", records[:2]), ("b", records[2:])):
        (root / name).mkdir(parents=True)
        (root / name / "gates.jsonl").write_text("".join(json.dumps({"utt": f"{name}{i}", "gates": r}) + "\n"
                                                         for i, r in enumerate(recs)))
    written = gate_patterns.write_most_frequent(root, tmp_path / "p.json")
    assert gate_patterns.read_pattern(tmp_path / "p.json") == written == record("10", "0")
    with pytest.raises(ValueError, match="no gate decisions"):
        gate_patterns.most_frequent([{}])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty has no test set with a gates.jsonl"):
        gate_patterns.write_most_frequent(tmp_path / "empty", tmp_path / "q.json")


def test_mutual_information_is_the_entropy_when_the_pattern_names_the_context_and_zero_when_independent():
    assert gate_patterns.mutual_information([("p", "fr"), ("q", "de")] * 5) == pytest.approx(1.0)
    assert gate_patterns.mutual_information([("p", "fr"), ("p", "de"), ("q", "fr"), ("q", "de")]) == pytest.approx(0.0)
    assert gate_patterns.mutual_information([("p", "fr")] * 4) == 0.0


def test_context_dependence_counts_patterns_per_language_and_task():
    utts = [("fra", "asr", record("10")), ("fra", "st_eng", record("11")),
            ("deu", "asr", record("10")), ("deu", "st_eng", record("11"))]
    enc = gate_patterns.context_dependence(utts)["encoder"]
    assert enc["distinct_patterns"] == 2 and enc["distinct_per_language"] == {"deu": 2, "fra": 2}
    assert enc["distinct_per_task"] == {"asr": 1, "st_eng": 1}
    assert enc["mi_task_bits"] == pytest.approx(1.0) and enc["mi_language_bits"] == pytest.approx(0.0)
    assert enc["keep_rate"]["fra st_eng"] == [1.0, 1.0] and enc["keep_rate"]["deu asr"] == [1.0, 0.0]
    dec = gate_patterns.context_dependence(utts)["decoder"]
    assert dec["distinct_patterns"] == 1 and dec["pattern_entropy_bits"] == 0.0


def test_margin_summary_separates_what_context_and_speech_move():
    utts = [("fra", "asr", [3.0, 0.5]), ("fra", "asr", [3.2, 0.7]), ("deu", "asr", [2.8, -0.6]), ("deu", "asr", [3.0, -0.4])]
    m = gate_patterns.margin_summary(utts)
    assert m["gates"] == 2 and m["mean_abs_margin"] == pytest.approx((3.0 + 0.05) / 2)
    assert m["between_context_std"] == pytest.approx((0.1 + 0.55) / 2)
    assert m["within_context_std"] == pytest.approx(0.1)
    assert m["gates_flipping_between_contexts"] == 1 and m["gates_flipping_within_a_context"] == 0
