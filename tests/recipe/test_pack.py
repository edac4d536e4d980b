"""``recipe.pack``: an experiment packed into a model-zoo dir with its provenance; a non-empty dir refused."""

from pathlib import Path

import pytest

from espnet_dynprune.recipe import pack as pack_command
from espnet_dynprune.zoo.model_zoo import ModelZooDir
from tests.builders.tiny_release import Release


def test_cli_writes_provenance_and_refuses_a_nonempty_dir(release: Release, tmp_path: Path, capsys) -> None:
    argv = [
        "--s2t_train_config", str(release.config), "--s2t_model_file", str(release.model_file),
        "--stats_file", str(release.stats_file), "--output_dir", str(tmp_path / "zoo"),
        "--half", "true", "--provenance", "run.sh --stage 11 conf/tuning/x.yaml",
    ]  # fmt: skip
    pack_command.main(argv)
    assert "wrote" in capsys.readouterr().out
    zoo = ModelZooDir.load(tmp_path / "zoo")
    assert zoo.meta["provenance"] == "run.sh --stage 11 conf/tuning/x.yaml" and zoo.meta["dtype"] == "float16"
    with pytest.raises(FileExistsError, match="not empty"):
        pack_command.main(argv)
