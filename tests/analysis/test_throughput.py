"""The end-to-end throughput ladder on a tiny OWSM-shaped size (no timing asserted: CI machines vary)."""

import json

import pytest
import torch

from espnet_dynprune.analysis.peak_memory import peak_working_bytes, weight_bytes
from espnet_dynprune.analysis.throughput import parse_rung, precisions_needed
from espnet_dynprune.nets.espnet_compat import SEARCHES_SEVERAL_UTTERANCES
from espnet_dynprune.bin import throughput


def test_the_ladder_decodes_every_rung_side_by_side(tiny_size, tmp_path, capsys):
    out = tmp_path / "t.json"
    throughput.main(["--sizes", tiny_size, "--ladder", "stock:1", "dense:1", "dense:3", "dense:3/1", "0.5:3",
                     "0.5:3:bf16:int8",
                     "--utterances", "5", "--speech_seconds", "2", "--steps", "4", "--profile", "dense:1",
                     "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]
    assert list(results) == ["stock:1:fp32:fp32", "dense:1:fp32:fp32", "dense:3:fp32:fp32", "dense:3/1:fp32:fp32",
                             "0.5:3:fp32:fp32", "0.5:3:bf16:int8"]
    # cached K/V and batching (5 utterances in batches of 3 and 2, encoded together or one by one)
    # change no hypothesis of stock ESPnet's
    for spec in ("stock:1:fp32:fp32", "dense:1:fp32:fp32", "dense:3:fp32:fp32", "dense:3/1:fp32:fp32"):
        assert results[spec]["same_hypotheses_as_first"] == 5
    assert results["stock:1:fp32:fp32"]["speedup"] == 1.0
    assert all(r["utts_per_s"] == pytest.approx(5 / r["total_s"]) for r in results.values())
    # bf16 encoder + int8 decoder: fewer weight bytes; a batch of 3 needs more working memory than one utterance
    assert results["0.5:3:bf16:int8"]["weights_mb"] < 0.8 * results["dense:3:fp32:fp32"]["weights_mb"]
    assert results["dense:3:fp32:fp32"]["peak_working_mb"] > results["dense:1:fp32:fp32"]["peak_working_mb"] > 0
    assert results["dense:3:fp32:fp32"]["peak_working_mb"] > results["dense:3/1:fp32:fp32"]["peak_working_mb"]
    ops = results["dense:1:fp32:fp32"]["profile"]
    assert ops and all(0 < o["share"] <= 1 and o["calls"] >= 1 for o in ops)
    assert any("addmm" in o["op"] or "linear" in o["op"] for o in ops)
    table = capsys.readouterr().out
    assert "| 0.5:3:bf16:int8 |" in table and "Where dense:1:fp32:fp32 spends one batch" in table


def test_stock_espnet_decodes_a_batch_in_one_search_where_it_can(tiny_size, tmp_path, capsys):
    """ESPnet 202611's fastest setting (Speech2Text's batch_size) is a rung, and a second baseline."""
    if not SEARCHES_SEVERAL_UTTERANCES:
        with pytest.raises(ValueError, match="decodes one utterance at a time"):
            parse_rung("stock:8")
        return
    out = tmp_path / "t.json"
    throughput.main(["--sizes", tiny_size, "--ladder", "stock:1", "stock:8", "dense:8", "--utterances", "5",
                     "--speech_seconds", "2", "--steps", "4", "--memory", "false", "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]
    batched = results["stock:8:fp32:fp32"]
    assert batched["same_hypotheses_as_first"] == 5 and results["dense:8:fp32:fp32"]["same_hypotheses_as_first"] == 5
    assert batched["speedup_vs_stock_batched"] == 1.0
    assert results["dense:8:fp32:fp32"]["speedup_vs_stock_batched"] == pytest.approx(
        batched["total_s"] / results["dense:8:fp32:fp32"]["total_s"])
    assert "vs stock:8:fp32:fp32 |" in capsys.readouterr().out


def test_gmac_are_those_of_the_patterns_each_utterance_ran(tiny_size, tmp_path, capsys):
    out = tmp_path / "t.json"
    throughput.main(["--sizes", tiny_size, "--ladder", "dense:1", "0.5,on:1", "dense:2", "0.5,on:2", "on,0.5:2",
                     "--utterances", "3", "--speech_seconds", "2", "--steps", "4", "--gmac", "true",
                     "--memory", "false", "--profile", "0.5,on:2", "--output", str(out)])
    results = json.loads(out.read_text())["sizes"][tiny_size]
    dense, enc1, enc2, dec2 = (results[s] for s in ("dense:1:fp32:fp32", "0.5,on:1:fp32:fp32", "0.5,on:2:fp32:fp32",
                                                     "on,0.5:2:fp32:fp32"))
    # pruning the encoder removes encoder GMAC only, the same per utterance batched or not
    assert enc1["gmac_encoder"] < dense["gmac_encoder"]
    assert enc1["gmac_decoder"] == pytest.approx(dense["gmac_decoder"])
    assert enc2["gmac_total"] == pytest.approx(enc1["gmac_total"])
    assert dec2["gmac_decoder"] < dense["gmac_decoder"] and dec2["gmac_encoder"] == pytest.approx(dense["gmac_encoder"])
    # the time/GMAC ratio is taken against the dense rung of the same batch, absent for dense rungs
    assert enc2["time_per_gmac_vs_dense"] == pytest.approx(
        (enc2["total_s"] / results["dense:2:fp32:fp32"]["total_s"]) / (enc2["gmac_total"] / dense["gmac_total"]))
    assert "time_per_gmac_vs_dense" not in dense and "time_per_gmac_vs_dense" in enc1
    assert len(enc2["profile"]) > 0
    assert "| 0.5,on:2:fp32:fp32 |" in capsys.readouterr().out


def test_profiling_a_rung_that_is_not_on_the_ladder_is_refused(tiny_size):
    with pytest.raises(SystemExit, match=r"--profile \['dense:4:fp32:fp32'\]: not rungs of --ladder"):
        throughput.main(["--sizes", tiny_size, "--ladder", "stock:1", "dense:1", "--profile", "dense:4"])


@pytest.mark.parametrize("spec, message", [("stock:8:bf16:fp32", "stock ESPnet decodes in fp32"),
                                           ("stock:8/2", "its whole batch in one encoder call"), ("dense:0", "MODEL:BATCH"),
                                           ("1.5:8", "MODEL:BATCH"), ("dense:8:fp16:fp32", "MODEL:BATCH"),
                                           ("dense:4/5", "ENCODER_BATCH <= BATCH"), ("dense:4/x", "MODEL:BATCH"),
                                           ("on:8", "MODEL:BATCH"), ("0.5,1.0:8", "MODEL:BATCH"),
                                           ("0.5,on,0.5:8", "MODEL:BATCH"), ("off,on:8", "MODEL:BATCH")])
def test_a_bad_rung_is_named(spec, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_rung(spec)
    assert repr(spec) in str(error.value)


def test_rungs_normalise_and_name_the_copies_they_need():
    rungs = [parse_rung(s) for s in ("dense", "0.5:8", "0.5:8/1:bf16:int8", "stock:1", "dense:4/4")]
    assert [r.spec for r in rungs] == ["dense:1:fp32:fp32", "0.5:8:fp32:fp32", "0.5:8/1:bf16:int8", "stock:1:fp32:fp32",
                                       "dense:4:fp32:fp32"]
    assert rungs[2].encoder_batch == 1 and rungs[4].encoder_batch is None
    assert rungs[1].gates == {"encoder": 0.5, "decoder": 0.5} and rungs[3].gates is None
    assert parse_rung("0.9,on:8/1").gates == {"encoder": 0.9, "decoder": "on"}
    assert parse_rung("on,0.3").gates == {"encoder": "on", "decoder": 0.3}
    assert precisions_needed(rungs) == ["bf16:int8"]


def test_peak_working_memory_counts_what_is_held_at_once():
    def call():
        a = torch.ones(1000, 250)  # 1 MB (float32)
        b = torch.ones(2000, 250)  # 2 MB: 3 MB held here
        del a
        c = torch.ones(500, 250)  # 0.5 MB: 2.5 MB
        return float(b.sum() + c.sum())

    result, peak = peak_working_bytes(call, torch.device("cpu"))
    assert result == 625000.0 and peak == 3_000_000


def test_weight_bytes_count_int8_packed_weights_once():
    model = torch.nn.Sequential(torch.nn.Linear(100, 100), torch.nn.Linear(100, 100))
    model[1].weight = model[0].weight  # shared: counted once
    assert weight_bytes(model) == (100 * 100 + 2 * 100) * 4
    int8 = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(100, 100)),
                                                  {torch.nn.Linear}, dtype=torch.qint8)
    assert 100 * 100 <= weight_bytes(int8) < 100 * 100 + 100 * 4 + 64
