"""Stage 12 decoding: shards, resumption, merging and gate records, on a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.recipe import decode
from tests.builders.tiny_decoding import decode_argv as argv, write_test_set, write_tiny_model


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture
def test_set(tmp_path):
    return write_test_set(tmp_path / "test_fra_asr")


def test_shards_are_contiguous_near_equal_and_cover_the_sorted_keys():
    keys = [f"k{i}" for i in range(7)][::-1]
    shards = [decode.shard(keys, 3, j) for j in (1, 2, 3)]
    assert shards == [["k0", "k1", "k2"], ["k3", "k4"], ["k5", "k6"]]
    assert decode.shard(["a"], 3, 3) == []
    with pytest.raises(ValueError, match="--job 4 must be in 1..--nj 3"):
        decode.shard(keys, 3, 4)


def test_gate_specs():
    assert [decode.parse_gates(v) for v in ("predicted", "on", "off", "0.25")] == [None, "on", "off", 0.25]
    for bad in ("1.5", "half"):
        with pytest.raises(ValueError, match=f"--gates '{bad}'"):
            decode.parse_gates(bad)


def test_sharded_decoding_resumes_merges_and_matches_a_single_run(model_files, test_set, tmp_path, monkeypatch):
    out = tmp_path / "decode"
    decode.main(argv(model_files, test_set, out, "--nj", "2", "--job", "1"))
    with pytest.raises(FileNotFoundError, match=r"1 of 2 shards are not done: .*output\.2"):
        decode.main(argv(model_files, test_set, out, "--nj", "2", "--merge", "true"))
    assert decode.main(argv(model_files, test_set, out, "--nj", "2", "--job", "2")) == [None]
    assert read_map(out / "logdir" / "output.1" / "text").keys() == {"utt0", "utt1", "utt2"}

    def fail(*args, **kwargs):
        raise AssertionError("a done shard was decoded again")

    monkeypatch.setattr(decode, "decode_utterance", fail)
    decode.main(argv(model_files, test_set, out, "--nj", "2", "--job", "1"))
    with pytest.raises(ValueError, match=r"other settings \{'gates': \('predicted', 'on'\)\}"):
        decode.main(argv(model_files, test_set, out, "--nj", "2", "--job", "1", "--gates", "on"))
    monkeypatch.undo()

    [summary] = decode.main(argv(model_files, test_set, out, "--nj", "2", "--merge", "true"))
    assert summary["num_utts"] == 5 and summary["seconds_per_utt"] > 0
    assert 0 < summary["encoder_seconds_per_utt"] < summary["seconds_per_utt"]
    assert summary["decoder_seconds_per_utt"] == pytest.approx(summary["seconds_per_utt"] - summary["encoder_seconds_per_utt"])
    assert summary["model"]["file_bytes"] == Path(summary["settings"]["s2t_model_file"]).stat().st_size
    assert 0 < summary["model"]["encoder_parameters"] < summary["model"]["parameters"]
    assert set(summary["sparsity"]) == set(summary["sparsity_flops"]) == {"encoder", "decoder"}
    assert summary["weight_sparsity"] == {}  # no magnitude pruning
    assert summary["settings"]["lang_sym"] == "<fra>" and summary["settings"]["task_sym"] == "<asr>"
    assert summary["data_dir"] == str(test_set.resolve())  # stage 13 scores against its text
    assert json.loads((out / "decode_summary.json").read_text()) == summary
    text, token = read_map(out / "text"), read_map(out / "token")
    assert list(text) == [f"utt{i}" for i in range(5)] == list(read_map(out / "time"))
    assert all(t.split()[:3] == ["<fra>", "<asr>", "<notimestamps>"] for t in token.values())
    assert all("<" not in t for t in text.values())
    records = [json.loads(line) for line in (out / "gates.jsonl").read_text().splitlines()]
    assert [r["utt"] for r in records] == list(text)
    assert len(records[0]["gates"]["encoder"]) == 8 and "layer1.src_attn" in records[0]["gates"]["decoder"]
    assert [len(records[0]["margins"][p]) for p in ("encoder", "decoder")] == [8, len(records[0]["gates"]["decoder"])]
    assert all((m > 0) == k for m, k in zip(records[0]["margins"]["encoder"], records[0]["gates"]["encoder"].values()))
    calls = records[0]["decoder_calls"]
    assert calls[0] == [1, 4, 0] and all(c[1:] == [5 + i, 1] and 1 <= c[0] <= 2 for i, c in enumerate(calls[1:]))

    [single] = decode.main(argv(model_files, test_set, tmp_path / "single"))
    assert read_map(tmp_path / "single" / "text") == text and single["num_utts"] == 5



def test_a_magnitude_pruned_model_reports_the_weight_sparsity_it_decoded_with(test_set, tmp_path):
    import torch

    config, model_file = write_tiny_model(tmp_path / "model", dynprune=False, model="magnitude_prune", model_conf={
        "sparsity_target": 0.3, "prune_parts": "decoder", "reprune_interval": 2})
    state = torch.load(model_file)
    assert all(bool(v.ne(0).all()) for k, v in state.items() if k.endswith(".weight") and k.startswith("decoder."))
    state["magnitude_ready"] = torch.ones(())  # a trained PARP checkpoint, weights regrown: pruned as it loads
    torch.save(state, model_file)
    [summary] = decode.main(argv((config, model_file), test_set, tmp_path / "decode", "--nj", "2"))
    assert summary["weight_sparsity"] == {"decoder": pytest.approx(0.3, abs=1e-3)}
    shard = json.loads((tmp_path / "decode" / "logdir" / "output.2" / decode.WEIGHTS).read_text())
    assert shard["weight_sparsity"] == summary["weight_sparsity"]

def test_several_test_sets_share_one_process_and_one_model(model_files, test_set, tmp_path, monkeypatch):
    loads, real_load = [], decode.load_speech2text
    monkeypatch.setattr(decode, "load_speech2text", lambda **kw: loads.append(kw) or real_load(**kw))
    outs = [str(tmp_path / "a"), str(tmp_path / "b")]
    both = argv(model_files, test_set, tmp_path / "unused")
    both[1:4] = [str(test_set), str(test_set), "--output_dir", *outs]  # --data_dir D D --output_dir A B
    summaries = decode.main(both)
    assert len(loads) == 1 and [s["num_utts"] for s in summaries] == [5, 5]
    assert read_map(tmp_path / "a" / "text") == read_map(tmp_path / "b" / "text")
    with pytest.raises(SystemExit):  # one output dir for two test sets
        decode.main(both[:5] + both[6:])


def test_forced_gates_are_realised_and_stock_models_refuse_them(model_files, test_set, tmp_path):
    [summary] = decode.main(argv(model_files, test_set, tmp_path / "off", "--gates", "off", "--warmup", "0"))
    assert summary["sparsity"] == {"encoder": 1.0, "decoder": 1.0}
    assert summary["sparsity_flops"]["encoder"] == pytest.approx(1.0)
    stock = write_tiny_model(tmp_path, dynprune=False)
    with pytest.raises(ValueError, match="--gates off needs a dynprune model"):
        decode.main(argv(stock, test_set, tmp_path / "stock", "--gates", "off"))
    [dense] = decode.main(argv(stock, test_set, tmp_path / "stock", "--gates", "on"))
    assert dense["sparsity"] == {} and dense["num_utts"] == 5


def test_a_replaced_model_or_test_set_makes_its_shards_stale(tmp_path, test_set, caplog):
    """Done means done for these inputs: a model file replaced at the same path is decoded again."""
    import shutil

    model = write_tiny_model(tmp_path / "model", seed=0)
    out = tmp_path / "decode"
    decode.main(argv(model, test_set, out, "--nj", "2"))
    first = json.loads((out / "logdir" / "output.1" / "done").read_text())["inputs"]
    other = write_tiny_model(tmp_path / "other", seed=1)
    shutil.copyfile(other[1], model[1])  # new weights, same path
    with caplog.at_level("INFO"):
        summary = decode.main(argv(model, test_set, out, "--nj", "2"))[0]
    assert "decoded from other inputs (changed: model); decoding it again" in caplog.text
    again = json.loads((out / "logdir" / "output.1" / "done").read_text())["inputs"]
    assert again["model"] != first["model"] and again["data"] == first["data"]
    assert summary["settings"]["inputs"] == again
    (test_set / "text").write_text((test_set / "text").read_text().replace("ab cd", "ab ce"))
    decode.main(argv(model, test_set, out, "--nj", "2", "--job", "1"))  # job 1 redone, job 2 not yet
    with pytest.raises(ValueError, match=r"1 of 2 shards were decoded from other inputs .*output\.2"):
        decode.main(argv(model, test_set, out, "--nj", "2", "--merge", "true"))


def test_a_most_frequent_pattern_file_forces_that_pattern_on_every_utterance(model_files, test_set, tmp_path):
    from espnet_dynprune.analysis import gate_patterns

    root = tmp_path / "decode_predicted"
    decode.main(argv(model_files, test_set, root / "test_fra_asr", "--warmup", "0"))
    pattern = gate_patterns.write_most_frequent(root, tmp_path / "pattern.json")
    pattern["encoder"]["layer0.ffn1"] = False  # a pattern the predictor need not choose
    (tmp_path / "pattern.json").write_text(json.dumps(pattern))
    out = tmp_path / "decode_fixed" / "test_fra_asr"
    [summary] = decode.main(argv(model_files, test_set, out, "--gates", str(tmp_path / "pattern.json"), "--warmup", "0"))
    records = [json.loads(line)["gates"] for line in (out / "gates.jsonl").read_text().splitlines()]
    assert records == [pattern] * 5 and summary["settings"]["gates"] == pattern
    assert all(json.loads(line)["margins"] == {} for line in (out / "gates.jsonl").read_text().splitlines())
    wrong = {"encoder": pattern["encoder"]}
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    with pytest.raises(ValueError, match=r"has parts \['encoder'\]; .* has gated parts \['decoder', 'encoder'\]"):
        decode.main(argv(model_files, test_set, tmp_path / "w", "--gates", str(tmp_path / "wrong.json")))
    (tmp_path / "bad.json").write_text('{"encoder": {"layer0.ffn1": 1}}')
    with pytest.raises(ValueError, match=r"gate pattern file .*bad\.json must map each part"):
        decode.parse_gates(str(tmp_path / "bad.json"))


def test_batched_decoding_writes_what_one_at_a_time_writes(model_files, test_set, tmp_path):
    [single] = decode.main(argv(model_files, test_set, tmp_path / "one"))
    [batched] = decode.main(argv(model_files, test_set, tmp_path / "three", "--batch_size", "3", "--nj", "2",
                                 "--encoder_batch_size", "2"))  # encoded 2 + 1 at a time, decoded 3 together
    for name in ("text", "token"):
        assert read_map(tmp_path / "three" / name) == read_map(tmp_path / "one" / name)
    records = [{r["utt"]: r for r in map(json.loads, (tmp_path / d / "gates.jsonl").read_text().splitlines())}
               for d in ("one", "three")]
    for utt, one in records[0].items():
        three = records[1][utt]
        assert three["gates"] == one["gates"] and three["sparsity"] == one["sparsity"]
        assert three["margins"].keys() == one["margins"].keys()
        assert all(k == 2 or (k == 1 and not cached) for k, _, cached in three["decoder_calls"])  # beam 2 rows each
    assert single["seconds_per_utt_is"] == "measured per utterance"
    assert batched["seconds_per_utt_is"].startswith("amortised") and batched["settings"]["batch_size"] == 3
    # shard 1 held 3 utterances, one batch: they share its time
    times = read_map(tmp_path / "three" / "logdir" / "output.1" / "time")
    assert len(set(times.values())) == 1 and len(times) == 3


def test_shards_written_before_batch_size_existed_count_as_batch_size_1(model_files, test_set, tmp_path, monkeypatch):
    out = tmp_path / "decode"
    decode.main(argv(model_files, test_set, out))
    done = out / "logdir" / "output.1" / "done"
    settings = json.loads(done.read_text())
    del settings["batch_size"]
    done.write_text(json.dumps(settings))
    monkeypatch.setattr(decode, "decode_utterance", lambda *a, **k: pytest.fail("a done shard was decoded again"))
    decode.main(argv(model_files, test_set, out))
    with pytest.raises(ValueError, match=r"other settings \{'batch_size': \(1, 2\)\}"):
        decode.main(argv(model_files, test_set, out, "--batch_size", "2"))
