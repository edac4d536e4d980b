"""``bin.flops``: GFLOPs averaged over the gate decisions of decoded utterances, several test sets in one process."""

from __future__ import annotations

import json
import shutil

import pytest

from espnet_dynprune.bin import flops as flops_command
from tests.builders.tiny_decoding import write_test_set


def test_cli_averages_the_decisions_of_real_utterances(flops_models, flop_counter, tmp_path):
    (config, model_file), dyn, _ = flops_models
    data = write_test_set(tmp_path / "data", count=3)
    decode_dir = tmp_path / "decode"
    decode_dir.mkdir()
    tokens = {"utt0": "a b c", "utt1": "a", "utt2": "a b c"}
    (decode_dir / "token").write_text("".join(f"{u} <fra> <asr> <notimestamps> {t}\n" for u, t in tokens.items()))
    names = {p: part.gate_names for p, part in dyn.gated_parts().items()}
    patterns = {"utt0": True, "utt1": True, "utt2": False}
    (decode_dir / "gates.jsonl").write_text("".join(
        json.dumps({"utt": u, "gates": {p: dict.fromkeys(n, keep) for p, n in names.items()},
                    "decoder_calls": [[1, 4, 0]] + [[3, 4 + k, 1] for k in (1, 2, 3)]}) + "\n"
        for u, keep in patterns.items()))
    again = tmp_path / "decode_again"  # a second test set of the same model: one process, one load
    shutil.copytree(decode_dir, again)
    result, result_again = flops_command.main(["--s2t_train_config", str(config), "--s2t_model_file", str(model_file),
                                       "--decode_dir", str(decode_dir), str(again), "--data_dir", str(data), str(data),
                                       "--beam_size", "3", "--max_utts", "2"])
    expected = (flop_counter.utterance(3, "on")["total"] + flop_counter.utterance(3, "off")["total"]) / 2
    assert result["gflops"]["total"] == pytest.approx(expected)
    assert result["gflops_as_run"]["total"] == pytest.approx(expected)  # the calls follow the convention
    reprojected = (flop_counter.utterance(3, "on", reprojected=True)["total"]
                   + flop_counter.utterance(3, "off")["total"]) / 2
    assert result["gflops_reprojected"]["total"] == pytest.approx(reprojected) and reprojected > expected
    assert (result["num_utts_used"], result["num_gate_patterns"], result["speech_seconds"]) == (2, 2, 2.0)
    assert json.loads((decode_dir / "flops.json").read_text()) == result
    assert json.loads((again / "flops.json").read_text()) == result_again == result
    with pytest.raises(SystemExit):
        flops_command.main(["--decode_dir", str(decode_dir), str(again), "--data_dir", str(data)])
