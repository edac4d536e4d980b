"""Stage 13 in one process: every decoded test set is scored and counted from its decode summary."""

from __future__ import annotations

import json

from espnet_dynprune.analysis import results_table
from espnet_dynprune.recipe import score_decodes as score_decodes_command


def test_scores_and_flops_of_every_decoded_test_set(decoded_test_sets, monkeypatch, capsys):
    from espnet2.tasks.s2t import S2TTask

    work, root = decoded_test_sets
    loads, real_load = [], S2TTask.build_model_from_file
    monkeypatch.setattr(S2TTask, "build_model_from_file", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    records = score_decodes_command.main(["--decode_roots", str(root), str(work / "exp" / "decode_unmatched_*"),
                                  "--max_utts", "2"])
    assert [(r["language"], r["task"]) for r in records] == [("fra", "asr"), ("fra", "st_eng")]
    assert len(loads) == 1  # one model: loaded once for both test sets
    asr, st = (json.loads((root / name / "result.json").read_text()) for name in ("test_fra_asr", "test_fra_st_eng"))
    assert asr["task"] == "asr" and "wer" in asr and asr["ref_text"] == str(work / "dump" / "test_fra_asr" / "text")
    assert st["task"] == "st_eng" and "bleu" in st and "signatures" in st
    for record in records:
        flops = json.loads((root / record["decode_dir"] / "flops.json").read_text())
        assert flops == record["flops"] and flops["gflops"]["total"] > 0 and flops["num_utts_used"] == 2
    assert not (root / "test_not_decoded" / "result.json").exists()
    out = capsys.readouterr().out
    assert "<fra><asr>: asr 2 utts: WER" in out and "sacrebleu bleu signature" in out
    rows = results_table.collect([work / "exp"])
    cells = {r["test_set"]: [results_table.cell(r[k]) for k in ("gflops", "wer" if r["task"] == "asr" else "bleu")]
             for r in rows}
    assert "n/a" not in cells["test_fra_asr"] + cells["test_fra_st_eng"] and cells["test_not_decoded"] == ["n/a"] * 2
