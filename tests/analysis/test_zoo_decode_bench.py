"""Trained models' decoding timed side by side: one prompt, exactly ``steps`` tokens each, ratios to the first."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import pytest

from espnet_dynprune.analysis import zoo_decode_bench
from espnet_dynprune.analysis.static_bench import load_zoo_model
from tests.builders.tiny_recipe import RECIPE


class RecordedSearch:
    """A beam search that keeps the token ids of every hypothesis it returns."""

    def __init__(self, search, hypotheses: List[List[int]]) -> None:
        self.search, self.hypotheses = search, hypotheses

    def set_hyp_primer(self, primer: List[int]) -> None:
        self.search.set_hyp_primer(primer)

    def __call__(self, *args, **kwargs):
        nbest = self.search(*args, **kwargs)
        self.hypotheses += [h.yseq.tolist() for h in nbest]
        return nbest


def test_two_model_zoo_dirs_decode_the_same_shapes_and_compare_to_the_first(tmp_path: Path, monkeypatch) -> None:
    standin = str(RECIPE / "standin")
    copy = str(shutil.copytree(standin, tmp_path / "copy"))
    hypotheses: List[List[int]] = []
    real = zoo_decode_bench.fixed_length_search
    monkeypatch.setattr(zoo_decode_bench, "fixed_length_search", lambda m, b: RecordedSearch(real(m, b), hypotheses))
    rounds: List[str] = []
    results = zoo_decode_bench.bench_zoo_decoding([standin, copy], seconds=1.0, steps=3, repeats=1, warmup=0,
                                                  log=rounds.append)
    assert rounds == ["round 1/1 done"] and list(results) == [standin, copy]
    model = load_zoo_model(standin)
    assert results[copy]["params_M"] == results[standin]["params_M"] == sum(p.numel() for p in model.parameters()) / 1e6
    assert {k: v for k, v in results[standin].items() if k.endswith("_ratio")} == dict.fromkeys(
        ("encoder_ratio", "decoder_ratio", "total_ratio"), 1.0)
    for part in ("encoder", "decoder", "total"):
        assert results[copy][f"{part}_s"] > 0
        ratio = results[copy][f"{part}_s"] / results[standin][f"{part}_s"]
        assert results[copy][f"{part}_ratio"] == pytest.approx(ratio)
    tokens = model.token_list
    assert len(hypotheses) == 2 * 5  # beam 5: five hypotheses per model
    for yseq in hypotheses:  # <sos> <fra> <asr> <notimestamps>, 3 tokens, <eos>: whatever the model has learnt
        assert yseq[0] == model.sos and [tokens[i] for i in yseq[1:4]] == ["<fra>", "<asr>", "<notimestamps>"]
        assert len(yseq) == 4 + 3 + 1 and yseq[-1] == model.eos and model.eos not in yseq[4:-1]


def test_the_table_lists_every_model_against_the_first() -> None:
    results = {"a": {"params_M": 4.58341, "encoder_s": 0.5, "decoder_s": 1.5, "total_s": 2.0, "encoder_ratio": 1.0,
                     "decoder_ratio": 1.0, "total_ratio": 1.0},
               "b": {"params_M": 2.5, "encoder_s": 0.25, "decoder_s": 1.25, "total_s": 1.5, "encoder_ratio": 0.5,
                     "decoder_ratio": 1.25 / 1.5, "total_ratio": 0.75}}
    assert zoo_decode_bench.markdown(results, steps=3, beam_size=5).splitlines() == [
        "### trained models' decoding (3 beam-5 steps), against the first",
        "| model | params M | encoder s | decoder s | total s | encoder / first | decoder / first | total / first |",
        "|---|---|---|---|---|---|---|---|",
        "| a | 4.58 | 0.5000 | 1.5000 | 2.0000 | 1.000 | 1.000 | 1.000 |",
        "| b | 2.50 | 0.2500 | 1.2500 | 1.5000 | 0.500 | 0.833 | 0.750 |",
    ]
