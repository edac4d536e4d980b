"""Stage 13 in one process: every decoded test set is scored and counted from its decode summary."""

from __future__ import annotations

import json

import pytest

from espnet_dynprune.analysis import results_table, score_decodes
from espnet_dynprune.recipe import decode, score_decodes as score_decodes_command
from tests.builders.tiny_decoding import write_test_set, write_tiny_model


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    """Stage 12's layout: EXP/decode_x_gates_on/{test_fra_asr,test_fra_st_eng,logdir}."""
    work = tmp_path_factory.mktemp("score_decodes")
    config, model_file = write_tiny_model(work)
    root = work / "exp" / "decode_x_gates_on"
    for name, task in (("test_fra_asr", "asr"), ("test_fra_st_eng", "st_eng")):
        data = write_test_set(work / "dump" / name, count=2, task=task)
        decode.decode(data, root / name, config, model_file, beam_size=2, maxlenratio=0.5, gates="on", warmup=0)
    (root / "test_not_decoded").mkdir()  # no decode_summary.json: skipped
    return work, root


def test_scores_and_flops_of_every_decoded_test_set(decoded, monkeypatch, capsys):
    from espnet2.tasks.s2t import S2TTask

    work, root = decoded
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


def test_only_the_given_test_sets_and_clear_errors(decoded, tmp_path):
    work, root = decoded
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
