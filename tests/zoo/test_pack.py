"""Model-zoo dirs packed from an experiment: minimal dir-relative layout, fp16 round trip, decoding from inside."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from espnet_dynprune.zoo import pack as pack_module
from espnet_dynprune.zoo.model_zoo import ModelZooError
from tests.builders.tiny_release import Release


def test_layout_is_minimal_and_dir_relative(packed: Path) -> None:
    files = sorted(p.relative_to(packed).as_posix() for p in packed.rglob("*") if p.is_file())
    assert files == [
        "data/token_list/bpe_unigram30/bpe.model",
        "data/token_list/bpe_unigram30/tokens.txt",
        "exp/s2t_stats_raw_bpe30/train/feats_stats.npz",
        "exp/s2t_train_tiny/config.yaml",
        "exp/s2t_train_tiny/valid.acc.ave.pth",
        "meta.yaml",
    ]
    config = yaml.safe_load((packed / "exp/s2t_train_tiny/config.yaml").read_text(encoding="utf-8"))
    assert config["token_list"] == "data/token_list/bpe_unigram30/tokens.txt"  # was an inline list
    assert config["bpemodel"] == "data/token_list/bpe_unigram30/bpe.model"
    assert config["normalize_conf"]["stats_file"] == "exp/s2t_stats_raw_bpe30/train/feats_stats.npz"
    meta = yaml.safe_load((packed / "meta.yaml").read_text(encoding="utf-8"))
    assert meta["files"] == {"s2t_model_file": "exp/s2t_train_tiny/valid.acc.ave.pth"}
    assert meta["yaml_files"] == {"s2t_train_config": "exp/s2t_train_tiny/config.yaml"}
    assert meta["espnet"] and meta["torch"] and meta["dtype"] == "float32"


def test_half_keeps_feature_buffers_and_round_trips(release: Release, tmp_path: Path) -> None:
    zoo = pack_module.pack(release.config, release.model_file, tmp_path / "zoo", half=True)
    raw = torch.load(zoo.model_file, weights_only=True)
    assert raw["encoder.encoders.0.attn.linear_q.weight"].dtype == torch.float16
    assert raw["normalize.mean"].dtype != torch.float16
    assert zoo.model_file.stat().st_size < 0.6 * release.model_file.stat().st_size
    original = torch.load(release.model_file, weights_only=True)
    state = zoo.state_dict()
    for key, value in original.items():
        assert state[key].dtype == value.dtype, key
        torch.testing.assert_close(state[key], value, rtol=1e-3, atol=1e-3)


def test_speech2text_decodes_from_inside_the_dir(release: Release, tmp_path: Path, monkeypatch) -> None:
    from espnet2.bin.s2t_inference import Speech2Text

    zoo = pack_module.pack(release.config, release.model_file, tmp_path / "zoo", half=True)
    monkeypatch.chdir(zoo.root)
    meta = yaml.safe_load(Path("meta.yaml").read_text(encoding="utf-8"))
    s2t = Speech2Text(
        s2t_train_config=meta["yaml_files"]["s2t_train_config"],
        s2t_model_file=meta["files"]["s2t_model_file"],
        beam_size=1, lang_sym="<fra>", task_sym="<asr>", maxlenratio=0.3,
    )  # fmt: skip
    assert s2t.s2t_model.normalize.stats_file == Path("exp/s2t_stats_raw_bpe30/train/feats_stats.npz")
    speech = np.random.default_rng(0).normal(scale=0.1, size=16000).astype(np.float32)
    results = s2t(speech)
    assert results and isinstance(results[0][0], str)


def test_missing_sources_listed(release: Release, tmp_path: Path) -> None:
    config = yaml.safe_load(release.config.read_text(encoding="utf-8"))
    config["bpemodel"] = str(tmp_path / "gone.model")
    config["normalize_conf"] = {}
    broken = tmp_path / "config.yaml"
    broken.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ModelZooError, match="problems: 3") as error:
        pack_module.pack(broken, tmp_path / "none.pth", tmp_path / "zoo")
    message = str(error.value)
    assert "none.pth does not exist" in message and "bpemodel: " in message and "gone.model" in message
    assert "no stats file; pass --stats_file" in message
    assert not (tmp_path / "zoo").exists()


def test_a_finetuned_dynprune_model_packs_and_decodes(packed: Path, tmp_path: Path, monkeypatch) -> None:
    from espnet_dynprune.registration import register_all
    from espnet_dynprune.zoo.finetune_config import finetune_config

    register_all()
    from espnet2.bin.s2t_inference import Speech2Text
    from espnet2.tasks.s2t import S2TTask

    finetune = tmp_path / "ft.yaml"
    finetune.write_text(yaml.safe_dump({"prune": "both", "prune_conf": {"sparsity_target": 0.5}}), encoding="utf-8")
    merged = finetune_config(packed, finetune, tmp_path / "merged.yaml")
    with pytest.raises(ModelZooError, match="lacks init: pack the config.yaml that s2t_train wrote"):
        pack_module.pack(merged, packed / "exp/s2t_train_tiny/valid.acc.ave.pth", tmp_path / "bad")
    args = S2TTask.get_parser().parse_args(["--config", str(merged)])
    model = S2TTask.build_model(args)  # then save as s2t_train does
    exp = tmp_path / "exp/s2t_ft"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    torch.save(model.state_dict(), exp / "valid.acc.ave.pth")
    zoo = pack_module.pack(exp / "config.yaml", exp / "valid.acc.ave.pth", tmp_path / "shipped", half=True)
    assert yaml.safe_load(zoo.config.read_text(encoding="utf-8"))["model"] == "dynprune"
    monkeypatch.chdir(zoo.root)
    s2t = Speech2Text(
        s2t_train_config=str(zoo.config.relative_to(zoo.root)),
        s2t_model_file=str(zoo.model_file.relative_to(zoo.root)),
        beam_size=1, lang_sym="<deu>", task_sym="<st_eng>", maxlenratio=0.3,
    )  # fmt: skip
    assert type(s2t.s2t_model).__name__ == "DynPruneS2TModel"
    assert s2t(np.random.default_rng(0).normal(scale=0.1, size=16000).astype(np.float32))


def test_symlinked_model_file_keeps_its_name(release: Release, tmp_path: Path) -> None:
    """ESPnet's valid.acc.ave.pth is a symlink to valid.acc.ave_<n>best.pth."""
    link = tmp_path / "exp/s2t_train_tiny/valid.acc.ave.pth"
    link.parent.mkdir(parents=True)
    link.symlink_to(release.model_file)
    zoo = pack_module.pack(release.config, link, tmp_path / "zoo")
    assert zoo.model_file.name == "valid.acc.ave.pth" and not zoo.model_file.is_symlink()
