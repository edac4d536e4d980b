"""Every fine-tuning and static-pruning YAML under the recipe's conf/ merges with the shipped stand-in
into a config whose model ESPnet builds and the stand-in's weights load into strictly (stage 6 / 10's check)."""

from pathlib import Path

import pytest
import yaml

from espnet_dynprune.zoo.finetune_config import finetune_config
from tests.builders.tiny_recipe import RECIPE

CONFS = sorted(p for p in (RECIPE / "conf").glob("*.yaml") if p.name.startswith(("finetune_", "static_prune_")))


@pytest.mark.parametrize("conf", CONFS, ids=lambda p: p.name)
def test_recipe_conf_builds_on_the_standin(conf: Path, tmp_path: Path) -> None:
    output = finetune_config(RECIPE / "standin", conf, tmp_path / "config.yaml", check_weights=True)
    merged = yaml.safe_load(output.read_text(encoding="utf-8"))
    prune = yaml.safe_load(conf.read_text(encoding="utf-8")).get("prune", "none")
    assert (merged.get("model") == "distill_prune") == prune.startswith("static")
