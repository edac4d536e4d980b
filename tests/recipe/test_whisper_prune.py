"""Stages 10-12 of static pruning of Whisper on a tiny random Whisper: the set-up, ESPnet's own
asr_train distilling it (model: distill_prune), the export, and stock ESPnet decoding the pruned model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_dynprune.bin import export_pruned
from espnet_dynprune.bin.whisper_convert import convert
from espnet_dynprune.recipe import whisper_prune
from espnet_dynprune.recipe.whisper_decode import build, decode_set, load_test_set
from tests.builders.tiny_decoding import write_test_set
from tests.builders.tiny_whisper import TINY, write_checkpoint

PRUNE = {"model_conf": {"sparsity_target": 0.5, "sparsity_warmup_steps": 2}, "optim": "adam",
         "optim_conf": {"lr": 1.0e-3}, "scheduler": None, "batch_type": "unsorted", "batch_size": 2,
         "max_epoch": 2, "num_iters_per_epoch": 2, "keep_nbest_models": 1, "num_workers": 0,
         "best_model_criterion": [["valid", "loss", "min"]]}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("whisper")
    convert(str(root / "whisper_tiny"), src=str(write_checkpoint(root / "tiny.pt", TINY)), language="fr")
    return root / "whisper_tiny"


def test_set_up_distil_export_and_decode_with_stock_espnet(model_dir: Path, tmp_path: Path) -> None:
    from espnet2.bin.asr_train import main as asr_train

    train, dev = write_test_set(tmp_path / "train", count=4), write_test_set(tmp_path / "dev", count=3)
    (train / "wav.scp").write_text((train / "wav.scp").read_text() + f"utt0_st {train / 'u0.wav'}\n")  # ST: same audio
    (train / "text").write_text((train / "text").read_text() + "utt0_st <fra><st_eng><notimestamps> ab\n")
    (tmp_path / "prune.yaml").write_text(yaml.safe_dump(PRUNE))
    exp = tmp_path / "exp"
    config = whisper_prune.setup(model_dir, tmp_path / "prune.yaml", 0.6, exp, [train], dev, valid_utts=2)
    assert len((exp / "train.scp").read_text().splitlines()) == 4  # each recording once
    assert len((exp / "valid.scp").read_text().splitlines()) == 2
    assert yaml.safe_load(config.read_text())["model_conf"]["sparsity_target"] == 0.6
    asr_train(["--config", str(config), "--output_dir", str(exp), "--ngpu", "0",
               "--train_shape_file", str(exp / "train.scp"), "--valid_shape_file", str(exp / "valid.scp"),
               "--train_data_path_and_name_and_type", f"{train}/wav.scp,speech,sound",
               "--train_data_path_and_name_and_type", f"{train}/text,text,text",
               "--valid_data_path_and_name_and_type", f"{dev}/wav.scp,speech,sound",
               "--valid_data_path_and_name_and_type", f"{dev}/text,text,text"])
    assert (exp / "latest.pth").is_file()
    export_pruned.main(["--asr_train_config", str(exp / "config.yaml"), "--asr_model_file", str(exp / "latest.pth"),
                        "--output_dir", str(exp / "pruned")])
    exported = yaml.safe_load((exp / "pruned" / "config.yaml").read_text())
    assert (exported["encoder"], exported["model"]) == ("whisper_pruned", "espnet")
    audio = load_test_set(dev, 2)
    for system in ("espnet", "dynprune"):
        record = decode_set(build(system, exp / "pruned", "fr", "transcribe", 2, 1, 20), audio, tmp_path / system)
        assert record["num_utts"] == 2 and len((tmp_path / system / "text").read_text().splitlines()) == 2
    hypotheses = [(tmp_path / s / "text").read_text() for s in ("espnet", "dynprune")]
    assert hypotheses[0] == hypotheses[1]  # the cached decoder changes no hypothesis of stock ESPnet's
