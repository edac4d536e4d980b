"""``bin.score``: WER/CER after normalisation, BLEU/chrF with sacrebleu's defaults and signatures, result.json."""

from __future__ import annotations

import json

import pytest
import sacrebleu

from espnet_dynprune.bin import score as scoring_command
from tests.builders.stage_outputs import write_lines


def test_wer_and_cer_after_normalisation_with_an_empty_hypothesis(tmp_path):
    ref = write_lines(tmp_path / "ref", ["a <fra><asr><notimestamps> Le Conseil, vote.",
                                         "b <fra><asr><notimestamps> Merci beaucoup"])
    hyp = write_lines(tmp_path / "hyp", ["a le conseil votes", "b"])
    result = scoring_command.main(["--ref_text", str(ref), "--hyp_text", str(hyp), "--task", "asr",
                                   "--output", str(tmp_path / "result.json")])
    assert result["wer"] == pytest.approx(100 * 3 / 5)  # 1 substitution + 2 deletions of 5 words
    assert (result["substitutions"], result["deletions"], result["insertions"]) == (1, 2, 0)
    assert 0 < result["cer"] < 100 and result["num_utts"] == 2
    assert json.loads((tmp_path / "result.json").read_text()) == result


def test_st_uses_sacrebleu_defaults_and_prints_signatures(tmp_path, capsys):
    refs = ["The Council voted.", "Thank you very much."]
    hyps = ["The Council voted.", "Thanks a lot <eng>"]
    ref = write_lines(tmp_path / "ref", [f"u{i} <fra><st_eng><notimestamps> {r}" for i, r in enumerate(refs)])
    hyp = write_lines(tmp_path / "hyp", [f"u{i} {h}" for i, h in enumerate(hyps)])
    result = scoring_command.main(["--ref_text", str(ref), "--hyp_text", str(hyp), "--task", "<st_eng>"])
    clean = ["The Council voted.", "Thanks a lot"]
    assert result["bleu"] == pytest.approx(sacrebleu.corpus_bleu(clean, [refs]).score)
    assert result["chrf"] == pytest.approx(sacrebleu.corpus_chrf(clean, [refs]).score)
    assert "tok:13a" in result["signatures"]["bleu"] and "nc:6|nw:0" in result["signatures"]["chrf"]
    out = capsys.readouterr().out
    assert f"sacrebleu bleu signature: {result['signatures']['bleu']}" in out and "BLEU" in out
