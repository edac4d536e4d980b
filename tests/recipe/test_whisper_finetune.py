"""Stages 10-12 of fine-tuning Whisper on a tiny random Whisper: the set-up (Whisper's targets and
per-utterance prompts), ESPnet's own asr_train with context-aware dynamic pruning (model: dynprune),
and ESPnet's Speech2Text decoding the trained model with the test set's context."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.bin.whisper_convert import convert
from espnet_dynprune.recipe import whisper_finetune
from espnet_dynprune.recipe.whisper_decode import build, decode_set, load_test_set
from tests.builders.tiny_decoding import write_test_set
from tests.builders.tiny_whisper import TINY, write_checkpoint

FINETUNE = {"prune": "both", "prune_conf": {"sparsity_target": 0.5, "gate_predictor": "context",
                                            "gate_context_size": 4, "gate_hidden_size": 8},
            "optim": "adam", "optim_conf": {"lr": 1.0e-3}, "scheduler": None, "batch_type": "unsorted",
            "batch_size": 2, "max_epoch": 1, "num_iters_per_epoch": 2, "keep_nbest_models": 1, "num_workers": 0,
            "best_model_criterion": [["valid", "acc", "max"]]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("whisper")
    convert(str(root / "whisper_tiny"), src=str(write_checkpoint(root / "tiny.pt", TINY)), language="fr")
    return root / "whisper_tiny"


def test_whisper_s_targets_and_prompts_are_written_per_utterance(tmp_path: Path) -> None:
    data = write_test_set(tmp_path / "train", count=2)
    (data / "wav.scp").write_text((data / "wav.scp").read_text() + f"utt0_st {data / 'u0.wav'}\n")
    (data / "text").write_text((data / "text").read_text() + "utt0_st <fra><st_eng><notimestamps> Hello.\n")
    assert whisper_finetune.whisper_targets([data], tmp_path / "multi", multilingual=True) == 3
    assert (tmp_path / "multi" / "prompt").read_text().splitlines() == [
        "utt0 <|fr|> <|transcribe|>", "utt0_st <|fr|> <|translate|>", "utt1 <|fr|> <|transcribe|>"]
    assert (tmp_path / "multi" / "text").read_text().splitlines()[1] == "utt0_st Hello."
    assert whisper_finetune.whisper_targets([data], tmp_path / "two", multilingual=True, limit=2) == 2
    assert (tmp_path / "two" / "prompt").read_text().splitlines()[1] == "utt0_st <|fr|> <|translate|>"  # spread
    with pytest.raises(ValueError, match="no utterance of .* is one this Whisper can learn"):
        whisper_finetune.whisper_targets([data], tmp_path / "english", multilingual=False)


def test_set_up_train_with_context_aware_gates_and_decode(model_dir: Path, tmp_path: Path) -> None:
    from espnet2.bin.asr_train import main as asr_train

    train, dev = write_test_set(tmp_path / "train", count=4), write_test_set(tmp_path / "dev", count=3)
    (tmp_path / "finetune.yaml").write_text(yaml.safe_dump(FINETUNE))
    exp = tmp_path / "exp"
    config = whisper_finetune.setup(model_dir, tmp_path / "finetune.yaml", exp, [train], dev, valid_utts=2)
    args = ["--config", str(config), "--output_dir", str(exp), "--ngpu", "0"]
    for name in ("train", "valid"):
        data = exp / "data" / name
        args += [f"--{name}_shape_file", str(data / "wav.scp")]
        for item in ("wav.scp,speech,sound", "text,text,text", "prompt,prompt,text"):
            args += [f"--{name}_data_path_and_name_and_type", f"{data}/{item}"]
    asr_train(args)  # ESPnet's own entry point, its preprocessor putting each prompt in front of the text
    trained = yaml.safe_load((exp / "config.yaml").read_text())
    assert (trained["model"], trained["encoder"], trained["decoder"]) == ("dynprune", "whisper_dynprune", "whisper_dynprune")
    stats = torch.load(exp / "checkpoint.pth", weights_only=False)["reporter"]["stats"][1]["train"]
    assert stats["context_unknown"] == 0 and "enc_sparsity" in stats  # every prompt read: <|fr|> <|transcribe|>
    os.symlink("valid.acc.ave.pth", exp / "model.pth")  # what run.sh links for stage 12
    audio = load_test_set(dev, 2)
    record = decode_set(build("espnet", exp, "fr", "transcribe", 2, 1, 20), audio, tmp_path / "decoded")
    assert record["num_utts"] == 2 and len((tmp_path / "decoded" / "text").read_text().splitlines()) == 2
