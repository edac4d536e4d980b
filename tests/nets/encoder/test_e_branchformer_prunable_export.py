"""export_encoder: the smaller encoder computes what the masked one computes in eval, and rebuilds from its config."""

import pytest
import torch
import yaml
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder, export_encoder
from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder
from espnet_dynprune.nets.layers.layer_sizes import LayerSizes
from tests.builders.tiny_static import INPUT_SIZE, conf, prunable_params, randomize_masks, speech

OFF, ON = -10.0, 10.0


def masked_encoder(seed, **extra):
    """Six layers: attention removed, cgMLP removed (by its channels), both branches removed, both FFNs
    removed (FFN1 whole, FFN2 by its units), heads of their own sizes with a 0-q/k head, random."""
    torch.manual_seed(seed)
    encoder = EBranchformerPrunableEncoder(INPUT_SIZE, **conf(num_blocks=6, **extra))
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(0.1 * torch.randn_like(p))  # norms and biases away from their 1/0 init
    randomize_masks(encoder, seed)
    m = [layer.masks for layer in encoder.layer_masks]
    m[0]["attn"].set_log_alpha(OFF)
    m[1]["cgmlp_channels"].set_log_alpha(OFF)
    m[2]["attn_vo"].set_log_alpha(OFF)
    m[2]["cgmlp"].set_log_alpha(OFF)
    if "ffn1" in m[3]:
        m[3]["ffn1"].set_log_alpha(OFF)
    m[3]["ffn2_units"].set_log_alpha(OFF)
    head_dims = torch.tensor([8, 0, 3, 8])  # kept q/k dims of each head; v/o all kept but head 3's 5
    m[4]["attn_qk"].set_log_alpha(torch.cat([torch.tensor([ON] * n + [OFF] * (8 - n)) for n in head_dims.tolist()]))
    m[4]["attn_vo"].set_log_alpha(torch.tensor([ON] * 29 + [OFF] * 3))
    m[4]["attn"].set_log_alpha(ON)
    return encoder.eval()


def run(encoder, seed=5):
    with torch.no_grad():
        return encoder(*speech(seed))


@pytest.mark.parametrize("seed, extra", [(0, {}), (1, {}), (2, {}), (3, {"macaron_ffn": False})])
def test_export_computes_the_masked_encoder(seed, extra):
    encoder = masked_encoder(seed, **extra)
    values = [v for layer in encoder.layer_masks for v in layer.values().values() if v is not None]
    assert any(((v > 0) & (v < 1)).any() for v in values)  # some values really get folded into weights
    pruned = export_encoder(encoder).eval()
    s = pruned.layer_sizes
    assert not s[0].has_attention and s[0].cgmlp_channels > 0
    assert s[1].has_attention and s[1].cgmlp_channels == 0
    assert not s[2].has_attention and s[2].cgmlp_channels == 0 and pruned.encoders[2].merge_bias is not None
    assert s[3].ffn1_units == 0 and s[3].ffn2_units == 0
    assert s[4].attn_qk == [8, 0, 3, 8] and s[4].attn_vo == [8, 8, 8, 5]
    for layer in pruned.encoders:
        assert not any(name.startswith("layer_masks") for name in layer.state_dict())
    (out, olens, _), (ref, ref_olens, _) = run(pruned), run(encoder)
    assert torch.equal(olens, ref_olens)
    assert (out - ref).abs().max() <= 1e-4


@pytest.mark.parametrize(
    "groups, extra",
    [
        (["ffn_units"], {}), (["attn", "cgmlp"], {}), (["attn_qk", "cgmlp_channels"], {}), (None, {"use_ffn": False}),
        (None, {"gate_activation": "tanh", "ffn_activation_type": "relu", "merge_conv_kernel": 3,
                "cgmlp_conv_kernel": 5, "attention_heads": 2}),
        (None, {"input_layer": "linear", "pos_enc_layer_type": "scaled_abs_pos"}),
    ],
)
def test_export_with_other_mask_groups_and_encoder_conf(groups, extra):
    torch.manual_seed(0)
    masks = {} if groups is None else {"prune_groups": groups}
    encoder = EBranchformerPrunableEncoder(INPUT_SIZE, **masks, **conf(**extra))
    randomize_masks(encoder, 0)
    if "cgmlp" in encoder.layer_masks[1].masks:
        encoder.layer_masks[1].masks["cgmlp"].set_log_alpha(OFF)
    pruned = export_encoder(encoder.eval()).eval()
    assert (run(pruned)[0] - run(encoder)[0]).abs().max() <= 1e-4
    assert encoder.kept_params() == sum(prunable_params(layer) for layer in pruned.encoders)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_export_is_smaller_and_holds_exactly_the_kept_params(seed):
    encoder = masked_encoder(seed)
    pruned = export_encoder(encoder)
    weights = sum(p.numel() for name, p in encoder.named_parameters() if not name.startswith("layer_masks."))
    assert sum(p.numel() for p in pruned.parameters()) < weights
    assert encoder.kept_params() == sum(prunable_params(layer) for layer in pruned.encoders)
    assert encoder.kept_params() < encoder.dense_params()
    for name in ("embed", "after_norm"):  # not pruned: copied as is
        kept, copied = getattr(encoder, name).state_dict(), getattr(pruned, name).state_dict()
        assert kept.keys() == copied.keys() and all(torch.equal(kept[k], copied[k]) for k in kept)


def test_layer_sizes_round_trip_through_a_yaml_config():
    encoder = masked_encoder(0)
    pruned = export_encoder(encoder).eval()
    entries = [s.as_dict() for s in pruned.layer_sizes]
    assert [LayerSizes.from_dict(e, f"layer_sizes[{i}]") for i, e in enumerate(entries)] == pruned.layer_sizes
    text = yaml.safe_dump({"encoder": "e_branchformer_pruned",
                           "encoder_conf": {**conf(num_blocks=6), "layer_sizes": entries}})
    config = yaml.safe_load(text)
    assert config["encoder_conf"]["layer_sizes"] == entries
    fresh = EBranchformerPrunedEncoder(INPUT_SIZE, **config["encoder_conf"]).eval()
    result = fresh.load_state_dict(pruned.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.allclose(run(fresh)[0], run(pruned)[0], atol=1e-6)


def test_export_in_training_mode_uses_the_inference_masks():
    encoder = masked_encoder(1)
    in_eval = export_encoder(encoder).state_dict()
    encoder.train()
    exported = export_encoder(encoder)
    assert exported.training and all(layer.training for layer in encoder.layer_masks)
    state = exported.state_dict()
    assert state.keys() == in_eval.keys()
    assert all(torch.equal(state[k], in_eval[k]) for k in state)


def test_every_mask_kept_exports_the_stock_weights():
    encoder = masked_encoder(0)
    for layer in encoder.layer_masks:
        for mask in layer.masks.values():
            mask.set_log_alpha(ON)
    pruned = export_encoder(encoder)
    stock = {k: v for k, v in encoder.state_dict().items() if not k.startswith("layer_masks.")}
    assert pruned.state_dict().keys() == stock.keys()
    assert all(torch.equal(pruned.state_dict()[k], v) for k, v in stock.items())


@pytest.mark.parametrize("make", [
    lambda: EBranchformerEncoder(INPUT_SIZE, **conf()),
    lambda: EBranchformerPrunedEncoder(INPUT_SIZE, layer_sizes=[{}, {}], **conf()),
])
def test_exporting_an_encoder_without_masks_raises_type_error(make):
    with pytest.raises(TypeError, match="only an e_branchformer_prunable encoder"):
        export_encoder(make())
