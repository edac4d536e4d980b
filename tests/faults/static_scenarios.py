"""Fault scenarios of static structured pruning: its configs, its export, and exported models."""

from __future__ import annotations

import torch
import yaml

from espnet_dynprune.bin.export_pruned import export
from espnet_dynprune.nets.decoder.transformer_pruned import TransformerPrunedDecoder
from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder
from espnet_dynprune.zoo.finetune_config import finetune_config
from espnet_dynprune.zoo.model_zoo import ModelZooDir
from tests.builders.tiny_nets import DECODER_CONF, ENCODER_CONF
from tests.builders.tiny_recipe import RECIPE
from tests.faults.context import Ctx, raises

STANDIN = RECIPE / "standin"  # selfattn + absolute positions: what static pruning supports


def _static_config(ctx: Ctx, pretrained, prune_conf: dict, error: type, *message: str, prune: str = "static") -> None:
    """stage 6's finetune_config (with its weight check, which builds the model) fails, writing nothing."""
    s2t_config = ctx.tmp / "static.yaml"
    s2t_config.write_text(yaml.safe_dump({"prune": prune, "prune_conf": prune_conf}), encoding="utf-8")
    output = ctx.tmp / "exp/prune_config.yaml"
    with raises(error, *message):
        finetune_config(pretrained, s2t_config, output, check_weights=True)
    assert not output.exists() and not output.with_name("prune_config.yaml.pending").exists()


def target_out_of_range(ctx: Ctx) -> None:
    _static_config(ctx, STANDIN, {"sparsity_target": 1.0}, ValueError,
                   "model_conf sparsity_target must be in [0, 1), got 1.0")


def unknown_mask_group(ctx: Ctx) -> None:
    _static_config(ctx, STANDIN, {"prune_groups": ["attn_qk", "heads"]}, ValueError,
                   "prune_groups has unknown mask groups ['heads']; valid: ['attn_qk', 'attn_vo'")


def decoder_mask_group(ctx: Ctx) -> None:
    _static_config(ctx, STANDIN, {"prune_groups": ["attn", "cgmlp"]}, ValueError,
                   "decoder_conf prune_groups has unknown mask groups ['cgmlp']; valid: ['attn_qk', 'attn_vo', 'attn', "
                   "'ffn_units', 'ffn']", prune="static_decoder")


def relative_positions(ctx: Ctx) -> None:
    zoo = ctx.zoo_copy()
    config = ModelZooDir.load(zoo).config
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for key in ("attention_layer_type", "pos_enc_layer_type"):  # back to ESPnet's defaults: relative positions
        data["encoder_conf"].pop(key, None)
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    _static_config(ctx, zoo, {}, ValueError,
                   "supports encoder_conf attention_layer_type in ['selfattn'], got 'rel_selfattn' (ESPnet's default")


def export_without_masks(ctx: Ctx) -> None:
    zoo = ModelZooDir.load(STANDIN)  # a dense model: nothing to export
    with raises(ValueError, f"{zoo.config} has no masks to export: encoder is 'e_branchformer' and decoder is "
                            "'transformer'"):
        export(str(zoo.config), str(zoo.model_file), str(ctx.tmp / "zoo"))
    assert not (ctx.tmp / "zoo").exists()


def sizes_disagree_with_weights(ctx: Ctx) -> None:
    sizes = [{"ffn1_units": 8, "attn_qk": [3, 8], "attn_vo": [8, 2], "cgmlp_channels": 5, "ffn2_units": 0}] * 2
    conf = {**ENCODER_CONF, "attention_heads": 2}
    weights = EBranchformerPrunedEncoder(20, layer_sizes=sizes, **conf).state_dict()
    wrong = [sizes[0], {**sizes[1], "attn_qk": [4, 8]}]
    with raises(ValueError, "encoder.encoders.1.attn.linear_q.weight: weights (11, 32), the config's sizes (12, 32) "
                            "(encoder_conf layer_sizes[1])"):
        model = torch.nn.Module()
        model.encoder = EBranchformerPrunedEncoder(20, layer_sizes=wrong, **conf)
        model.load_state_dict({f"encoder.{k}": v for k, v in weights.items()}, strict=False)  # as ESPnet loads
    sizes = [{"self_attn_qk": [8, 2], "self_attn_vo": [8, 8], "src_attn_qk": [], "src_attn_vo": [], "ffn_units": 9}] * 2
    weights = TransformerPrunedDecoder(30, 32, layer_sizes=sizes, **DECODER_CONF).state_dict()
    wrong = [{**sizes[0], "ffn_units": 10}, sizes[1]]
    with raises(ValueError, "decoder.decoders.0.feed_forward.w_1.weight: weights (9, 32), the config's sizes (10, 32) "
                            "(decoder_conf layer_sizes[0])"):
        model = torch.nn.Module()
        model.decoder = TransformerPrunedDecoder(30, 32, layer_sizes=wrong, **DECODER_CONF)
        model.load_state_dict({f"decoder.{k}": v for k, v in weights.items()}, strict=False)

