"""Token lists in a model's OWSM layout: the pretrained one copied with its symbols checked, a bad task refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.zoo import model_zoo
from espnet_dynprune.zoo.token_list import copy_token_list, train_token_list


def test_copies_bpe_model_and_tokens_and_accepts_known_symbols(packed: Path, tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("u1 <fra><st_eng><notimestamps> a b\nu2 <deu><asr><notimestamps> c\n", encoding="utf-8")
    out = copy_token_list(packed, tmp_path / "token_list", check_text=text)
    zoo = model_zoo.ModelZooDir.load(packed)
    assert out.name == zoo.token_list.parent.name
    assert (out / "tokens.txt").read_text(encoding="utf-8").splitlines() == zoo.tokens()
    assert (out / "bpe.model").read_bytes() == zoo.bpemodel.read_bytes()


def test_an_unknown_task_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task='translate'"):
        train_token_list(["<fra><asr><notimestamps> oui"], tmp_path, langs=["fra"], tasks=["translate"])
