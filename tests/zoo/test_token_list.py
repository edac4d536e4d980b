"""Stage 5: the pretrained token list is copied, and unknown <symbols> in the data fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_dynprune.zoo import model_zoo
from espnet_dynprune.zoo.token_list import copy_token_list, main


def test_copies_bpe_model_and_tokens_and_accepts_known_symbols(packed: Path, tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("u1 <fra><st_eng><notimestamps> a b\nu2 <deu><asr><notimestamps> c\n", encoding="utf-8")
    out = copy_token_list(packed, tmp_path / "token_list", check_text=text)
    zoo = model_zoo.ModelZooDir.load(packed)
    assert out.name == zoo.token_list.parent.name
    assert (out / "tokens.txt").read_text(encoding="utf-8").splitlines() == zoo.tokens()
    assert (out / "bpe.model").read_bytes() == zoo.bpemodel.read_bytes()


def test_symbol_missing_from_the_token_list_is_named(packed: Path, tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("u1 <fra><asr><notimestamps> a\nu7 <hun><asr><notimestamps> b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"<hun> \(first in u7\)"):
        main(["--pretrained_model", str(packed), "--output_dir", str(tmp_path / "tl"), "--check_text", str(text)])


def test_model_zoo_cli_prints_and_writes_an_absolute_config(packed: Path, tmp_path: Path, capsys) -> None:
    model_zoo.main(["--pretrained_model", str(packed), "--print", "model_file", "--write_config", str(tmp_path / "c.yaml")])
    assert Path(capsys.readouterr().out.strip()) == model_zoo.ModelZooDir.load(packed).model_file
    config = yaml.safe_load((tmp_path / "c.yaml").read_text(encoding="utf-8"))
    assert Path(config["bpemodel"]).is_absolute() and Path(config["bpemodel"]).is_file()
