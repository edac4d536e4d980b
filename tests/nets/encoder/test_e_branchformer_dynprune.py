import inspect

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.context_vocabulary import ContextVocabulary
from espnet_dynprune.nets.encoder.e_branchformer_dynprune import EBranchformerDynPruneEncoder
from espnet_dynprune.nets.encoder.e_branchformer_pruned import EBranchformerPrunedEncoder
from espnet_dynprune.nets.espnet_compat import TooShortUttError, make_pad_mask
from tests.builders.tiny_nets import ENCODER_CONF, TOKENS, encoder_pair

CONTEXT = (torch.tensor([0, 1, 2]), torch.tensor([0, 1, 0]))


def run(encoder, xs, lens, context=CONTEXT):
    pad = make_pad_mask(lens, maxlen=xs.size(1))  # same padded length alone and in a batch
    with encoder.context(*context):
        return encoder(xs, lens, masks=pad)[0]


@pytest.mark.parametrize("granularity", ["module", "layer"])
def test_all_gates_on_equals_stock(speech, granularity):
    stock, dyn = encoder_pair(gate_granularity=granularity)
    dyn.force_gates("on")
    assert (stock(*speech)[0] - run(dyn, *speech)).abs().max() <= 1e-5
    _, dense = encoder_pair(gate_predictor="none")
    assert (stock(*speech)[0] - dense(*speech)[0]).abs().max() <= 1e-5


def test_state_dict_is_stock_plus_gate_predictor():
    stock, dyn = encoder_pair()
    extra = set(dyn.state_dict()) - set(stock.state_dict())
    assert set(stock.state_dict()) <= set(dyn.state_dict())
    assert extra and all(k.startswith("gate_predictor.") for k in extra)


def test_mixed_batch_equals_each_utterance_alone(speech):
    _, dyn = encoder_pair()
    xs, lens = speech
    mask = torch.tensor([[1, 0, 1, 1, 0, 1, 0, 1],
                         [1, 1, 1, 1, 1, 1, 1, 1],
                         [0, 0, 0, 0, 1, 0, 0, 1]])
    dyn.force_gates(mask)
    batch = run(dyn, xs, lens)
    for i in range(3):
        dyn.force_gates(mask[i])
        alone = run(dyn, xs[i:i + 1], lens[i:i + 1], (CONTEXT[0][i:i + 1], CONTEXT[1][i:i + 1]))
        assert (batch[i] - alone[0]).abs().max() <= 1e-5


def count_rows(module):
    seen = []
    module.register_forward_hook(lambda m, args, out: seen.append(args[0].size(0)))
    return seen


def test_skipped_modules_are_not_computed(speech):
    _, dyn = encoder_pair()
    layer = dyn.encoders[0]
    ffn1, attn, cgmlp = count_rows(layer.feed_forward_macaron), count_rows(layer.attn), count_rows(layer.cgmlp)
    merge, ffn2 = count_rows(layer.merge_proj), count_rows(layer.feed_forward)
    # layer 0: utt 0 keeps ffn1+cgmlp, utt 1 keeps attn+ffn2, utt 2 keeps nothing
    mask = torch.tensor([[1, 0, 1, 0, 1, 1, 1, 1],
                         [0, 1, 0, 1, 1, 1, 1, 1],
                         [0, 0, 0, 0, 1, 1, 1, 1]])
    dyn.force_gates(mask)
    run(dyn, *speech)
    assert (ffn1, attn, cgmlp, merge, ffn2) == ([1], [1], [1], [2], [1])
    dyn.force_gates("off")
    run(dyn, *speech)
    assert (len(ffn1), len(attn), len(cgmlp), len(merge), len(ffn2)) == (1, 1, 1, 1, 1)


def test_skipping_everything_leaves_only_norms(speech):
    stock, dyn = encoder_pair()
    dyn.force_gates("off")
    out = run(dyn, *speech)
    x, _ = stock.embed(speech[0], None)
    for layer in stock.encoders:
        x = layer.norm_final(x)
    assert (out - stock.after_norm(x)).abs().max() <= 1e-5


def test_training_straight_through_matches_inference_on_the_same_pattern(speech):
    _, dyn = encoder_pair()
    dyn.train()
    torch.manual_seed(3)
    trained = run(dyn, *speech)
    keep = dyn.last_gates.keep
    dyn.eval()
    dyn.force_gates(keep)
    assert (trained - run(dyn, *speech)).abs().max() <= 1e-5
    trained.sum().backward()
    assert dyn.gate_predictor.mlp[0].weight.grad.abs().sum() > 0


def test_skip_rows_in_training_runs_kept_rows_only(speech):
    _, dyn = encoder_pair(skip_rows_in_training=True)
    dyn.train()
    with torch.no_grad():  # skip layer0.attn for everyone
        dyn.gate_predictor.mlp[-1].bias[2:4] = torch.tensor([50.0, -50.0])
    attn = count_rows(dyn.encoders[0].attn)
    out = run(dyn, *speech)
    assert attn == []
    out.sum().backward()
    assert dyn.encoders[0].attn.linear_q.weight.grad is not None


@pytest.mark.parametrize("key,value,match", [
    ("sparsity_target", 1.0, "sparsity_target"),
    ("sparsity_target", -0.2, "sparsity_target"),
    ("gate_predictor", "sigmoid", "gate_predictor 'sigmoid'"),
    ("gate_granularity", "head", "gate_granularity 'head'"),
    ("context_dropout", 1.0, "context_dropout"),
])
def test_bad_options_name_key_and_value(key, value, match):
    conf = {**ENCODER_CONF, key: value}
    with pytest.raises(ValueError, match=match):
        EBranchformerDynPruneEncoder(20, **conf)


def test_too_short_input_names_its_length():
    _, dyn = encoder_pair(gate_predictor="speech")
    with pytest.raises(TooShortUttError, match="input of 5 frames is too short"):
        dyn(torch.randn(1, 5, 20), torch.tensor([5]))


# Every E-Branchformer layout ESPnet builds: without macaron FFN1, without any FFN, fast_selfattn.
LAYOUTS = {
    "no_macaron": dict(macaron_ffn=False),
    "no_ffn": dict(use_ffn=False, macaron_ffn=False),
    "fast_selfattn": dict(attention_layer_type="fast_selfattn", pos_enc_layer_type="abs_pos"),
    "rel_pos": dict(attention_layer_type="rel_selfattn", pos_enc_layer_type="rel_pos"),
}
if "use_sdpa" in inspect.signature(EBranchformerEncoder.__init__).parameters:  # ESPnet 202611's attention kernel
    LAYOUTS["sdpa"] = dict(use_sdpa=True)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layer_layout_equals_stock_with_gates_on_and_gates_the_modules_it_has(speech, layout):
    stock, dyn = encoder_pair(LAYOUTS[layout])
    expected = {"no_macaron": ("attn", "cgmlp", "ffn2"), "no_ffn": ("attn", "cgmlp")}
    assert dyn.module_types == expected.get(layout, ("ffn1", "attn", "cgmlp", "ffn2"))
    assert dyn.gate_names[: len(dyn.module_types)] == tuple(f"layer0.{m}" for m in dyn.module_types)
    dyn.force_gates("on")
    assert (stock(*speech)[0] - run(dyn, *speech)).abs().max() <= 1e-5
    dyn.force_gates("off")  # skipping all of a layer's modules leaves its final norm
    x, _ = stock.embed(speech[0], None)
    for layer in stock.encoders:
        x = layer.norm_final(x[0] if isinstance(x, tuple) else x)
    assert (run(dyn, *speech) - stock.after_norm(x)).abs().max() <= 1e-5
    dyn.force_gates(None)
    assert set(dyn.sparsity_stats("enc")) >= {"enc_sparsity", "enc_sparsity_flops"}


def test_no_macaron_skips_its_one_ffn_for_real(speech):
    _, dyn = encoder_pair(LAYOUTS["no_macaron"])
    ffn = count_rows(dyn.encoders[0].feed_forward)
    dyn.force_gates(torch.tensor([[1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 1]]))
    run(dyn, *speech)
    assert ffn == [1]


def test_layer_drop_composes_with_the_gates_in_training_only(speech):
    stock, dyn = encoder_pair({"layer_drop_rate": 1.0})
    dyn.train()
    out = run(dyn, *speech)  # every layer dropped, as ESPnet drops them
    x, _ = stock.embed(speech[0], None)
    assert (out - stock.after_norm(x)).abs().max() <= 1e-5
    out.sum().backward()  # DDP needs a gradient for every parameter, dropped layers included
    assert all(p.grad is not None for p in dyn.encoders.parameters())
    dyn.eval()
    stock.eval()
    dyn.force_gates("on")
    assert (stock(*speech)[0] - run(dyn, *speech)).abs().max() <= 1e-5


def test_interctc_and_conditioning_match_stock(speech):
    from espnet2.asr.ctc import CTC

    extra = {"interctc_layer_idx": [1], "interctc_use_conditioning": True}
    stock, dyn = encoder_pair(extra)
    torch.manual_seed(1)
    ctc = CTC(len(TOKENS), 32)
    for encoder in (stock, dyn):  # the model attaches it, as ESPnet's models do
        torch.manual_seed(2)
        encoder.conditioning_layer = torch.nn.Linear(len(TOKENS), 32)
    dyn.force_gates("on")
    (ref, ref_inter), _, _ = stock(*speech, ctc=ctc)
    with dyn.context(*CONTEXT):
        (out, inter), _, _ = dyn(*speech, ctc=ctc)
    assert [i for i, _ in inter] == [i for i, _ in ref_inter] == [1]
    assert (out - ref).abs().max() <= 1e-5 and (inter[0][1] - ref_inter[0][1]).abs().max() <= 1e-5


def test_gradient_checkpointing_gives_the_same_gradients(speech):
    grads = []
    for layers in ([], [0, 1, 2]):
        _, dyn = encoder_pair({"gradient_checkpoint_layers": layers})
        dyn.train()
        torch.manual_seed(5)
        run(dyn, *speech).square().sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in dyn.parameters() if p.grad is not None]))
    assert grads[0].shape == grads[1].shape and torch.allclose(grads[0], grads[1], atol=1e-5)


# Static + dynamic: the gated encoder on the layers a static export left (``layer_sizes``).
LAYER_SIZES = [  # layer 0 lost its attention, layer 1 its cgMLP and FFN1; odd head sizes
    {"ffn1_units": 40, "attn_qk": [], "attn_vo": [], "cgmlp_channels": 20, "ffn2_units": 64},
    {"ffn1_units": 0, "attn_qk": [3, 0, 8], "attn_vo": [5, 8, 1], "cgmlp_channels": 0, "ffn2_units": 17},
]


def static_pair(**gating):
    """(exported pruned encoder, dynprune encoder on the same layers and weights)."""
    torch.manual_seed(0)
    pruned = EBranchformerPrunedEncoder(20, layer_sizes=LAYER_SIZES, **ENCODER_CONF).eval()
    dyn = EBranchformerDynPruneEncoder(20, layer_sizes=LAYER_SIZES, **gating, **ENCODER_CONF).eval()
    assert set(dyn.load_state_dict(pruned.state_dict(), strict=False).missing_keys) == {
        k for k in dyn.state_dict() if k.startswith("gate_predictor.")}
    dyn.bind_context(ContextVocabulary(TOKENS))
    return pruned, dyn


def test_static_and_dynamic_gates_only_the_modules_each_layer_kept(speech):
    pruned, dyn = static_pair()
    assert dyn.gate_names == ("layer0.ffn1", "layer0.cgmlp", "layer0.ffn2", "layer1.attn", "layer1.ffn2")
    dyn.force_gates("on")
    assert (pruned(*speech)[0] - run(dyn, *speech)).abs().max() <= 1e-5


def test_static_and_dynamic_skips_the_kept_modules_for_real(speech):
    _, dyn = static_pair()
    layer0, layer1 = dyn.encoders
    cgmlp, attn, merge1 = count_rows(layer0.cgmlp), count_rows(layer1.attn), count_rows(layer1.merge_proj)
    dyn.force_gates(torch.tensor([[1, 1, 1, 0, 1], [1, 0, 1, 1, 1], [1, 0, 1, 0, 1]]))
    run(dyn, *speech)
    assert (cgmlp, attn, merge1) == ([1], [1], [1])  # utt 0 and 1 only; layer 1's merge follows its one branch
    skipped, costs = dyn.unit_costs(dyn.last_gates, 10)
    assert skipped.shape == (3, 7) and costs.shape == (7,)  # l0: ffn1 cgmlp merge ffn2, l1: attn merge ffn2
    assert skipped[2].tolist() == [0, 1, 1, 0, 1, 1, 0]


def test_static_and_dynamic_refuses_sizes_that_disagree_with_the_weights():
    pruned, _ = static_pair()
    bad = [dict(LAYER_SIZES[0], ffn2_units=63), LAYER_SIZES[1]]
    dyn = EBranchformerDynPruneEncoder(20, layer_sizes=bad, **ENCODER_CONF)
    with pytest.raises(ValueError, match=r"encoders\.0\.feed_forward\.w_1\.weight.*layer_sizes\[0\]"):
        dyn.load_state_dict(pruned.state_dict(), strict=False)
