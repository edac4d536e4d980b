"""The drop-in configs in conf/: ESPnet's S2TTask builds them, and they are the released
OWSM v3.1 architectures with only the encoder/decoder/model names and the pruning keys changed."""

from pathlib import Path

import pytest
import yaml

from espnet_dynprune.analysis.owsm_architecture import owsm_sizes, owsm_token_list
from espnet_dynprune.zoo.finetune_config import strip_pruning

CONF = Path(__file__).resolve().parents[1] / "conf"
DYNPRUNE_NAMES = {"encoder": "e_branchformer_dynprune", "decoder": "transformer_dynprune", "model": "dynprune"}


def load(size):
    return yaml.safe_load((CONF / f"owsm_v3.1_ebf_{size}_dynprune.yaml").read_text(encoding="utf-8"))


def build(config, tmp_path):
    from espnet2.tasks.s2t import S2TTask

    from espnet_dynprune.registration import register_s2t

    register_s2t()
    (tmp_path / "tokens.txt").write_text("\n".join(owsm_token_list()) + "\n", encoding="utf-8")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    args = S2TTask.get_parser().parse_args(
        ["--config", str(tmp_path / "config.yaml"), "--token_list", str(tmp_path / "tokens.txt")])
    return S2TTask.build_model(args)


# Released OWSM v3.1 sizes: (d, heads, FFN and cgMLP units, encoder = decoder blocks).
RELEASED = {"base": (384, 6, 1536, 6), "small": (768, 12, 3072, 9), "1b": (1024, 16, 4096, 18)}


def test_conf_has_every_released_size_and_the_package_ships_it():
    assert sorted(owsm_sizes()) == sorted(RELEASED)
    assert all(p.parent.resolve() == CONF.resolve() for p in owsm_sizes().values())


@pytest.mark.parametrize("size", sorted(RELEASED))
def test_only_names_and_pruning_keys_differ_from_the_released_architecture(size):
    config = load(size)
    assert {k: config[k] for k in DYNPRUNE_NAMES} == DYNPRUNE_NAMES
    enc, dec = config["encoder_conf"], config["decoder_conf"]
    assert (enc["output_size"], enc["attention_heads"], enc["linear_units"], enc["num_blocks"]) == RELEASED[size]
    assert enc["cgmlp_linear_units"] == enc["linear_units"] and dec["num_blocks"] == enc["num_blocks"]
    assert (dec["attention_heads"], dec["linear_units"]) == RELEASED[size][1:3]
    assert set(enc) - set(strip_pruning(config)["encoder_conf"]) == {"sparsity_target", "gate_predictor", "context_dropout"}
    assert set(config["model_conf"]) - set(strip_pruning(config)["model_conf"]) == {"sparsity_loss_weight"}


def test_base_builds_with_espnet_and_has_the_released_parameter_count(tmp_path):
    dyn = build(load("base"), tmp_path)
    stock = build(strip_pruning(load("base")), tmp_path)
    assert type(dyn).__name__ == "DynPruneS2TModel" and type(stock).__name__ == "ESPnetS2TModel"
    stock_params = {k: p.shape for k, p in stock.named_parameters()}
    assert sum(p.numel() for p in stock.parameters()) == 101_182_628
    assert {k: p.shape for k, p in dyn.named_parameters() if ".gate_predictor." not in k} == stock_params
    assert dyn.encoder.module_types == ("ffn1", "attn", "cgmlp", "ffn2") and len(dyn.encoder.gate_names) == 24
