"""Stage 13 in one process: only the test sets asked for are scored; a summary without its data dir is named."""

from __future__ import annotations

import json

import pytest

from espnet_dynprune.analysis import score_decodes


def test_only_the_given_test_sets_and_clear_errors(decoded_test_sets, tmp_path):
    work, root = decoded_test_sets
    (root / "test_fra_asr" / "result.json").unlink(missing_ok=True)
    (root / "test_fra_st_eng" / "result.json").unlink(missing_ok=True)
    [record] = score_decodes.score_decodes([root], test_sets=["test_fra_st_eng"], max_utts=1)
    assert record["task"] == "st_eng" and not (root / "test_fra_asr" / "result.json").exists()
    with pytest.raises(ValueError, match=r"no test set with a decode_summary.json under .* among \['test_x'\]"):
        score_decodes.score_decodes([root], test_sets=["test_x"])
    old = tmp_path / "old" / "test_fra_asr"
    old.mkdir(parents=True)
    summary = json.loads((root / "test_fra_asr" / "decode_summary.json").read_text())
    del summary["data_dir"]
    (old / "decode_summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"old/test_fra_asr/decode_summary.json has no 'data_dir'"):
        score_decodes.score_decodes([old.parent])
