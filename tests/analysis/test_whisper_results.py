"""Stage 13 for Whisper: scores with intervals, paired tests against the first system, speed ratios."""

from __future__ import annotations

import json
from pathlib import Path

from espnet_dynprune.analysis.significance import bleu_interval, wer_interval
from espnet_dynprune.analysis.whisper_results import collect, markdown

REFS = {f"u{i}": f"please press {i} now" for i in range(6)}


def _decoded(root: Path, system: str, test: str, hyps: dict, seconds: float) -> None:
    out = root / system / test
    out.mkdir(parents=True)
    (out / "text").write_text("".join(f"{u} {h}\n" for u, h in hyps.items()), encoding="utf-8")
    per_utt = {u: seconds / len(hyps) * (3 if i == 0 else 1) for i, u in enumerate(hyps)}  # one slow utterance
    timing = {"utts_per_second": len(hyps) / seconds, "espnet_capped": 1, "per_utt_seconds": per_utt}
    (out / "timing.json").write_text(json.dumps(timing))
    (out / ".done").write_text("{}")


def test_scores_intervals_and_speed_side_by_side(tmp_path: Path) -> None:
    test = tmp_path / "dump" / "test_asterisk_eng_asr"
    test.mkdir(parents=True)
    (test / "text").write_text("".join(f"{u} <eng><asr><notimestamps> {r.capitalize()}.\n" for u, r in REFS.items()))
    decode = tmp_path / "decode"
    first4 = dict(list(REFS.items())[:4])  # decoded with --max_utts 4
    _decoded(decode, "espnet", test.name, first4, seconds=8.0)
    _decoded(decode, "faster_whisper_int8", test.name, {**first4, "u0": "please press zero now"}, seconds=1.0)
    results = collect(str(decode), [str(test)], ["espnet", "faster_whisper:int8", "faster_whisper:float32"])
    rows = results[test.name]
    assert set(rows) == {"espnet", "faster_whisper_int8"}  # float32 was not decoded: left out
    assert rows["espnet"]["wer"] == 0.0 and rows["espnet"]["num_utts"] == 4
    assert rows["faster_whisper_int8"]["wer"] == 100 / 16 and rows["faster_whisper_int8"]["speed_vs_first"] == 8.0
    assert rows["faster_whisper_int8"]["vs_first"]["diff"] == 100 / 16
    table = markdown(results)
    assert rows["faster_whisper_int8"]["median_speed_vs_first"] == 8.0 and rows["espnet"]["median_seconds"] == 2.0
    assert "| test_asterisk_eng_asr | faster_whisper_int8 | 4 | WER 6.25 [" in table
    assert "| 4.000 (8.00x) | 0.250 (8.00x) | 1 (0) |" in table
    assert "| +6.25 (p " in table and "; 3 of 4 the same) |" in table


def test_intervals_hold_the_score() -> None:
    refs = [f"the cat sat on mat number {i}" for i in range(20)]
    hyps = [r if i % 4 else r.replace("cat", "dog") for i, r in enumerate(refs)]
    low, high = wer_interval(refs, hyps)
    assert low < 100 * 5 / 140 < high
    low, high = bleu_interval(refs, hyps)
    assert 0 < low < high <= 100


def test_identical_hypotheses_are_counted_not_tested(tmp_path: Path) -> None:
    test = tmp_path / "dump" / "test_asterisk_eng_asr"
    test.mkdir(parents=True)
    (test / "text").write_text("".join(f"{u} <eng><asr><notimestamps> {r}\n" for u, r in REFS.items()))
    decode = tmp_path / "decode"
    wrong = {**REFS, "u0": "please press zero now"}
    _decoded(decode, "faster_whisper_float32", test.name, wrong, seconds=2.0)
    _decoded(decode, "faster_whisper_int8", test.name, wrong, seconds=1.0)
    _decoded(decode, "dynprune", test.name, {**REFS, "u1": "please press one now"}, seconds=1.0)  # other errors
    results = collect(str(decode), [str(test)], ["faster_whisper:float32", "faster_whisper:int8", "dynprune"])
    table = markdown(results)
    assert "| identical hypotheses (6 of 6) |" in table
    assert results[test.name]["dynprune"]["same_as_first"] == 4 and "; 4 of 6 the same) |" in table


def test_another_model_s_decoding_is_the_baseline_given_by_its_path(tmp_path: Path) -> None:
    """A pruned model's systems against the unpruned model's decoding of the same audio."""
    test = tmp_path / "dump" / "test_asterisk_eng_asr"
    test.mkdir(parents=True)
    (test / "text").write_text("".join(f"{u} <eng><asr><notimestamps> {r}\n" for u, r in REFS.items()))
    _decoded(tmp_path / "dense", "dynprune_8_whisper", test.name, REFS, seconds=2.0)
    _decoded(tmp_path / "pruned", "dynprune_8_whisper", test.name, {**REFS, "u2": "please press two"}, seconds=1.0)
    baseline = str(tmp_path / "dense" / "dynprune:8:whisper")  # run.sh names it by the system, as decoded
    rows = collect(str(tmp_path / "pruned"), [str(test)], [baseline, "dynprune:8:whisper"])[test.name]
    assert list(rows) == [baseline, "dynprune_8_whisper"] and rows[baseline]["wer"] == 0.0
    assert rows["dynprune_8_whisper"]["same_as_first"] == 5
    assert rows["dynprune_8_whisper"]["vs_first"]["diff"] == 200 / 24  # a substitution and a deletion
