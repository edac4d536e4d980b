"""Stage 13 scoring: normalisation, WER/CER, BLEU/chrF with signatures, utterance checks."""

from __future__ import annotations

import json

import pytest
import sacrebleu

from espnet_dynprune.analysis import scoring
from espnet_dynprune.bin import score as scoring_command


def write(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("raw, expected", [
    ("Aujourd’hui, l'Union-européenne «vote» !", "aujourd'hui l'union-européenne vote"),
    ("<fra><asr><notimestamps> Le  PRÉSIDENT.", "le président"),
    ("- well -- 'quoted' rock-n-roll 'n'", "well quoted rock-n-roll n"),
    ("ﬁnal 50 % €", "final 50"),  # NFKC folds the ligature; symbols go
])
def test_asr_normalisation(raw, expected):
    assert scoring.normalise_for_wer(raw) == expected


def test_wer_and_cer_after_normalisation_with_an_empty_hypothesis(tmp_path):
    ref = write(tmp_path / "ref", ["a <fra><asr><notimestamps> Le Conseil, vote.",
                                   "b <fra><asr><notimestamps> Merci beaucoup"])
    hyp = write(tmp_path / "hyp", ["a le conseil votes", "b"])
    result = scoring_command.main(["--ref_text", str(ref), "--hyp_text", str(hyp), "--task", "asr",
                           "--output", str(tmp_path / "result.json")])
    assert result["wer"] == pytest.approx(100 * 3 / 5)  # 1 substitution + 2 deletions of 5 words
    assert (result["substitutions"], result["deletions"], result["insertions"]) == (1, 2, 0)
    assert 0 < result["cer"] < 100 and result["num_utts"] == 2
    assert json.loads((tmp_path / "result.json").read_text()) == result


def test_st_uses_sacrebleu_defaults_and_prints_signatures(tmp_path, capsys):
    refs = ["The Council voted.", "Thank you very much."]
    hyps = ["The Council voted.", "Thanks a lot <eng>"]
    ref = write(tmp_path / "ref", [f"u{i} <fra><st_eng><notimestamps> {r}" for i, r in enumerate(refs)])
    hyp = write(tmp_path / "hyp", [f"u{i} {h}" for i, h in enumerate(hyps)])
    result = scoring_command.main(["--ref_text", str(ref), "--hyp_text", str(hyp), "--task", "<st_eng>"])
    clean = ["The Council voted.", "Thanks a lot"]
    assert result["bleu"] == pytest.approx(sacrebleu.corpus_bleu(clean, [refs]).score)
    assert result["chrf"] == pytest.approx(sacrebleu.corpus_chrf(clean, [refs]).score)
    assert "tok:13a" in result["signatures"]["bleu"] and "nc:6|nw:0" in result["signatures"]["chrf"]
    out = capsys.readouterr().out
    assert f"sacrebleu bleu signature: {result['signatures']['bleu']}" in out and "BLEU" in out


def test_mismatched_utterances_task_and_empty_references_are_errors(tmp_path):
    ref = write(tmp_path / "ref", [f"u{i} <fra><asr><notimestamps> x" for i in range(5)])
    hyp = write(tmp_path / "hyp", ["u0 x", "u1 x", "zz x"])
    with pytest.raises(ValueError, match=r"3 only in the references \(first: \['u2', 'u3', 'u4'\]\), "
                                         r"1 only in the hypotheses \(first: \['zz'\]\)"):
        scoring.score_files(ref, hyp, "asr")
    with pytest.raises(ValueError, match=r"u0 is a <asr> reference, not <st_eng>"):
        scoring.score_files(ref, hyp, "st_eng")
    with pytest.raises(ValueError, match="'st' must be 'asr' or 'st_xxx'"):
        scoring.score_files(ref, hyp, "st")
    with pytest.raises(ValueError, match=r"1 references are empty after normalisation \(first: \['b'\]\)"):
        scoring.score("asr", ["x", "y"], ["x", "..."], ids=["a", "b"])
