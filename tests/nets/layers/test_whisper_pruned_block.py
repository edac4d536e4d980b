"""PrunedWhisperBlock: modules and shapes from the kept sizes, a removed module gone (identity), the forward."""

import math

import pytest
import torch
import torch.nn.functional as F

from espnet_dynprune.nets.layers.layer_sizes import WhisperBlockSizes
from espnet_dynprune.nets.layers.whisper_pruned_block import PrunedWhisperBlock

D, HEAD_DIM = 16, 8


def block(attn_qk=(), attn_vo=(), mlp_units=0) -> PrunedWhisperBlock:
    torch.manual_seed(0)
    sizes = WhisperBlockSizes(attn_qk=list(attn_qk), attn_vo=list(attn_vo), mlp_units=mlp_units)
    pruned = PrunedWhisperBlock(D, sizes, HEAD_DIM).eval()
    with torch.no_grad():
        for p in pruned.parameters():
            p.add_(0.1 * torch.randn_like(p))  # norms and biases away from their 1/0 init
    return pruned


def test_every_module_removed_is_none_and_the_block_is_the_identity():
    empty = block()
    assert (empty.attn_ln, empty.attn, empty.mlp_ln, empty.mlp) == (None, None, None, None)
    assert list(empty.parameters()) == [] and empty.state_dict() == {}
    x = torch.randn(2, 5, D)
    assert torch.equal(empty(x), x)


def test_the_shapes_come_from_the_sizes_under_whisper_s_names_and_the_key_has_no_bias():
    pruned = block(attn_qk=[3, 8], attn_vo=[5, 2], mlp_units=24)
    shapes = {k: tuple(v.shape) for k, v in pruned.state_dict().items()}
    assert shapes == {
        "attn_ln.weight": (D,), "attn_ln.bias": (D,),
        "attn.linear_q.weight": (11, D), "attn.linear_q.bias": (11,), "attn.linear_k.weight": (11, D),
        "attn.linear_v.weight": (7, D), "attn.linear_v.bias": (7,),
        "attn.linear_out.weight": (D, 7), "attn.linear_out.bias": (D,),
        "mlp_ln.weight": (D,), "mlp_ln.bias": (D,),
        "mlp.0.weight": (24, D), "mlp.0.bias": (24,), "mlp.2.weight": (D, 24), "mlp.2.bias": (D,),
    }  # fmt: skip
    assert pruned.attn.linear_k.bias is None and isinstance(pruned.mlp[1], torch.nn.GELU)
    assert (pruned.attn.qk_dims, pruned.attn.vo_dims) == ([3, 8], [5, 2])


@pytest.mark.parametrize("sizes, gone", [({"mlp_units": 12}, ("attn", "attn_ln")),
                                         ({"attn_qk": [4], "attn_vo": [4]}, ("mlp", "mlp_ln"))])
def test_a_removed_module_goes_with_its_norm(sizes, gone):
    pruned = block(**sizes)
    assert all(getattr(pruned, name) is None for name in gone)
    assert not any(key.startswith(gone) for key in pruned.state_dict())


def test_the_mlp_alone_adds_its_output_to_the_input():
    pruned = block(mlp_units=12)
    x = torch.randn(2, 5, D)
    ln, (up, _, down) = pruned.mlp_ln, pruned.mlp
    expected = x + F.linear(F.gelu(F.linear(F.layer_norm(x, (D,), ln.weight, ln.bias), up.weight, up.bias)),
                            down.weight, down.bias)
    with torch.no_grad():
        assert torch.allclose(pruned(x), expected, atol=1e-6)


def test_attention_scores_keep_the_unpruned_scale_and_the_mlp_reads_the_attention_s_output():
    pruned = block(attn_qk=[2], attn_vo=[3], mlp_units=6)
    x = torch.randn(1, 4, D)
    attn, ln = pruned.attn, pruned.attn_ln
    h = F.layer_norm(x, (D,), ln.weight, ln.bias)
    scores = attn.linear_q(h) @ attn.linear_k(h).transpose(1, 2) / math.sqrt(HEAD_DIM)  # not sqrt(2)
    y = x + attn.linear_out(scores.softmax(-1) @ attn.linear_v(h))
    expected = y + pruned.mlp(pruned.mlp_ln(y))
    with torch.no_grad():
        assert torch.allclose(pruned(x), expected, atol=1e-5)


def test_a_head_with_no_query_key_dims_attends_uniformly():
    pruned = block(attn_qk=[0], attn_vo=[4])
    x = torch.randn(2, 6, D)
    h = pruned.attn_ln(x)
    expected = x + pruned.attn.linear_out(pruned.attn.linear_v(h).mean(1, keepdim=True))
    with torch.no_grad():
        assert torch.allclose(pruned(x), expected, atol=1e-5)
