from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.zoo.model_zoo import ModelZooDir, ModelZooError
from tests.builders.tiny_release import Release

CONFIG = "exp/s2t_train_tiny/config.yaml"


def _edit_config(root: Path, **changes) -> None:
    path = root / CONFIG
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config.update(changes)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def test_load_gives_absolute_existing_paths(packed: Path, release: Release, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # resolution is against DIR, not the current directory
    zoo = ModelZooDir.load(packed)
    root = packed.resolve()
    for path in (zoo.config, zoo.model_file, zoo.token_list, zoo.bpemodel, zoo.stats_file):
        assert path.is_absolute() and path.is_file() and root in path.parents
    assert zoo.meta["provenance"] == "tiny test model"
    config = zoo.load_config()
    assert config["token_list"] == str(zoo.token_list) and config["bpemodel"] == str(zoo.bpemodel)
    assert config["normalize_conf"]["stats_file"] == str(zoo.stats_file)
    # a training-run path that is not in the directory is left as it was
    assert config["train_data_path_and_name_and_type"] == [["dump/raw/train/wav.scp", "speech", "sound"]]
    assert zoo.tokens() == release.token_list.read_text(encoding="utf-8").splitlines()


def test_inline_token_list(zoo_copy: Path, release: Release) -> None:
    tokens = release.token_list.read_text(encoding="utf-8").splitlines()
    _edit_config(zoo_copy, token_list=tokens)
    zoo = ModelZooDir.load(zoo_copy)
    assert zoo.token_list is None and zoo.tokens() == tokens


def test_absolute_paths_kept_if_they_exist_else_found_by_tail(zoo_copy: Path, release: Release) -> None:
    moved_cache = "/nonexistent/hf_cache/snapshots/abc/data/token_list/bpe_unigram30/tokens.txt"
    _edit_config(zoo_copy, bpemodel=str(release.bpemodel), token_list=moved_cache)
    zoo = ModelZooDir.load(zoo_copy)
    assert zoo.bpemodel == release.bpemodel.resolve()
    assert zoo.token_list == zoo_copy.resolve() / "data/token_list/bpe_unigram30/tokens.txt"


def test_symlinked_files_keep_their_names(zoo_copy: Path) -> None:
    """A Hugging Face snapshot links each file to a nameless blob."""
    model = zoo_copy / "data/token_list/bpe_unigram30/bpe.model"
    (zoo_copy / "blobs").mkdir()
    model.rename(zoo_copy / "blobs/0a1b2c")
    model.symlink_to("../../../blobs/0a1b2c")
    zoo = ModelZooDir.load(zoo_copy)
    assert zoo.bpemodel == zoo_copy / "data/token_list/bpe_unigram30/bpe.model" and zoo.bpemodel.is_file()


def test_every_missing_piece_in_one_error(zoo_copy: Path) -> None:
    (zoo_copy / "data/token_list/bpe_unigram30/bpe.model").unlink()
    (zoo_copy / "exp/s2t_stats_raw_bpe30/train/feats_stats.npz").unlink()
    (zoo_copy / "exp/s2t_train_tiny/valid.acc.ave.pth").unlink()
    _edit_config(zoo_copy, token_list="/gone/tokens.txt")
    with pytest.raises(ModelZooError) as error:
        ModelZooDir.load(zoo_copy)
    message = str(error.value)
    assert "(problems: 4)" in message
    for needle in ("files.s2t_model_file", "bpemodel: 'data/token_list/bpe_unigram30/bpe.model'",
                   "normalize_conf.stats_file", "token_list: '/gone/tokens.txt'", "looked at"):  # fmt: skip
        assert needle in message
    assert str(zoo_copy.resolve() / "data/token_list/bpe_unigram30/bpe.model") in message


def test_missing_meta_and_meta_keys(zoo_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelZooError, match="meta.yaml does not exist"):
        ModelZooDir.load(tmp_path / "nowhere")
    (zoo_copy / "meta.yaml").write_text(yaml.safe_dump({"files": {}, "yaml_files": {}}), encoding="utf-8")
    with pytest.raises(ModelZooError, match="no files.s2t_model_file") as error:
        ModelZooDir.load(zoo_copy)
    assert "no yaml_files.s2t_train_config" in str(error.value)


def test_missing_bpemodel_key_for_bpe_tokens(zoo_copy: Path) -> None:
    _edit_config(zoo_copy, bpemodel=None)
    with pytest.raises(ModelZooError, match="token_type: bpe but no bpemodel"):
        ModelZooDir.load(zoo_copy)


def test_state_dict_upcasts_fp16(zoo_copy: Path, release: Release) -> None:
    zoo = ModelZooDir.load(zoo_copy)
    original = torch.load(release.model_file, weights_only=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in original.items()}, zoo.model_file)
    state = zoo.state_dict()
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float32}
    for key, value in original.items():
        torch.testing.assert_close(state[key], value.half().float() if value.is_floating_point() else value)
    torch.save({"model": original, "optimizers": []}, zoo.model_file)
    with pytest.raises(ModelZooError, match="not a state dict of tensors"):
        zoo.state_dict()
