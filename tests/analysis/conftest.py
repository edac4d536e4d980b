"""Fixtures of the analysis tests."""

import pytest
import yaml

from espnet_dynprune.analysis import owsm_architecture
from espnet_dynprune.zoo.finetune_config import deep_merge

TINY = {"output_size": 32, "attention_heads": 4, "linear_units": 64, "cgmlp_linear_units": 64, "num_blocks": 2}


@pytest.fixture(scope="session")
def tiny_size(tmp_path_factory) -> str:
    """The base drop-in config at a tiny size (any dynprune config file can be benchmarked)."""
    config = yaml.safe_load(owsm_architecture.config_file("base").read_text())
    deep_merge(config, {"encoder_conf": TINY, "decoder_conf": {k: TINY[k] for k in ("attention_heads",
                                                                                     "linear_units", "num_blocks")}})
    path = tmp_path_factory.mktemp("conf") / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)
