"""Stage 13 scoring: normalisation for WER, and the checks of utterances, task and references."""

from __future__ import annotations

import pytest

from espnet_dynprune.analysis import scoring
from tests.builders.stage_outputs import write_lines


@pytest.mark.parametrize("raw, expected", [
    ("Aujourd’hui, l'Union-européenne «vote» !", "aujourd'hui l'union-européenne vote"),
    ("<fra><asr><notimestamps> Le  PRÉSIDENT.", "le président"),
    ("- well -- 'quoted' rock-n-roll 'n'", "well quoted rock-n-roll n"),
    ("ﬁnal 50 % €", "final 50"),  # NFKC folds the ligature; symbols go
])
def test_asr_normalisation(raw, expected):
    assert scoring.normalise_for_wer(raw) == expected


def test_mismatched_utterances_task_and_empty_references_are_errors(tmp_path):
    ref = write_lines(tmp_path / "ref", [f"u{i} <fra><asr><notimestamps> x" for i in range(5)])
    hyp = write_lines(tmp_path / "hyp", ["u0 x", "u1 x", "zz x"])
    with pytest.raises(ValueError, match=r"3 only in the references \(first: \['u2', 'u3', 'u4'\]\), "
                                         r"1 only in the hypotheses \(first: \['zz'\]\)"):
        scoring.score_files(ref, hyp, "asr")
    with pytest.raises(ValueError, match=r"u0 is a <asr> reference, not <st_eng>"):
        scoring.score_files(ref, hyp, "st_eng")
    with pytest.raises(ValueError, match="'st' must be 'asr' or 'st_xxx'"):
        scoring.score_files(ref, hyp, "st")
    with pytest.raises(ValueError, match=r"1 references are empty after normalisation \(first: \['b'\]\)"):
        scoring.score("asr", ["x", "y"], ["x", "..."], ids=["a", "b"])
