"""``recipe.model_zoo``: a model-zoo dir's parts printed for shell scripts, its config written with absolute paths."""

from pathlib import Path

import yaml

from espnet_dynprune.recipe import model_zoo as model_zoo_command
from espnet_dynprune.zoo import model_zoo


def test_model_zoo_cli_prints_and_writes_an_absolute_config(packed: Path, tmp_path: Path, capsys) -> None:
    model_zoo_command.main(["--pretrained_model", str(packed), "--print", "model_file", "--write_config", str(tmp_path / "c.yaml")])
    assert Path(capsys.readouterr().out.strip()) == model_zoo.ModelZooDir.load(packed).model_file
    config = yaml.safe_load((tmp_path / "c.yaml").read_text(encoding="utf-8"))
    assert Path(config["bpemodel"]).is_absolute() and Path(config["bpemodel"]).is_file()
