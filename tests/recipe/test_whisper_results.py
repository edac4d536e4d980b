"""The whisper_results command: each system's scores on each test set written as JSON and printed as a table."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from espnet_dynprune.recipe import whisper_results as whisper_results_command

REFS = {f"u{i}": f"please press {i} now" for i in range(4)}


def write_test_set(root: Path) -> Path:
    test = root / "dump" / "test_asterisk_eng_asr"
    test.mkdir(parents=True)
    (test / "text").write_text("".join(f"{u} <eng><asr><notimestamps> {r}\n" for u, r in REFS.items()))
    return test


def decoded(decode_dir: Path, system: str, test: str, hyps: dict, seconds: float) -> None:
    """What recipe.whisper_decode leaves for one system and test set (.done last)."""
    out = decode_dir / system / test
    out.mkdir(parents=True)
    (out / "text").write_text("".join(f"{u} {h}\n" for u, h in hyps.items()), encoding="utf-8")
    timing = {"utts_per_second": len(hyps) / seconds, "per_utt_seconds": {u: seconds / len(hyps) for u in hyps}}
    (out / "timing.json").write_text(json.dumps(timing))
    (out / ".done").write_text("{}")


def test_the_json_and_the_table_of_the_systems_decoded(tmp_path, capsys, caplog):
    test = write_test_set(tmp_path)
    decode = tmp_path / "decode"
    decoded(decode, "espnet", test.name, REFS, seconds=8.0)
    decoded(decode, "faster_whisper_int8", test.name, {**REFS, "u0": "please press zero now"}, seconds=2.0)
    output = tmp_path / "results" / "whisper.json"
    with caplog.at_level(logging.WARNING):
        whisper_results_command.main(["--decode_dir", str(decode), "--test_dirs", str(test), "--output", str(output)])
    results = json.loads(output.read_text(encoding="utf-8"))
    rows = results[test.name]
    assert list(rows) == ["espnet", "faster_whisper_int8"]  # the default systems; float32 was not decoded
    assert f"{decode / 'faster_whisper_float32' / test.name}: not decoded (no .done), left out" in caplog.messages
    assert rows["espnet"]["wer"] == 0.0 and rows["faster_whisper_int8"]["wer"] == 100 / 16
    assert rows["faster_whisper_int8"]["speed_vs_first"] == 4.0 and rows["faster_whisper_int8"]["same_as_first"] == 3
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| test set | system | utts | WER or BLEU [95% interval] |") and len(table) == 4
    assert table[2] == ("| test_asterisk_eng_asr | espnet | 4 | WER 0.00 [0.00, 0.00] | - | 0.500 (1x) | 2.000 (1x) "
                        "| 0 (0) |")
    assert table[3].startswith("| test_asterisk_eng_asr | faster_whisper_int8 | 4 | WER 6.25 [")
    assert "; 3 of 4 the same) | 2.000 (4.00x) | 0.500 (4.00x) | 0 (0) |" in table[3]


def test_the_systems_given_in_order_the_first_the_baseline(tmp_path, capsys):
    test = write_test_set(tmp_path)
    decode = tmp_path / "decode"
    decoded(decode, "espnet", test.name, REFS, seconds=8.0)
    decoded(decode, "dynprune", test.name, REFS, seconds=4.0)
    output = tmp_path / "w.json"
    whisper_results_command.main(["--decode_dir", str(decode), "--test_dirs", str(test), "--output", str(output),
                                  "--systems", " dynprune, ,espnet "])
    rows = json.loads(output.read_text(encoding="utf-8"))[test.name]
    assert list(rows) == ["dynprune", "espnet"] and rows["espnet"]["speed_vs_first"] == 0.5
    assert "| espnet | 4 | WER 0.00 [0.00, 0.00] | identical hypotheses (4 of 4) |" in capsys.readouterr().out


def test_required_arguments(capsys):
    with pytest.raises(SystemExit):
        whisper_results_command.main(["--decode_dir", "decode", "--test_dirs", "t"])
    assert "the following arguments are required: --output" in capsys.readouterr().err
