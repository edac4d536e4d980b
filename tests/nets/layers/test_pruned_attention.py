"""PrunedMultiHeadedAttention: ESPnet's attention at equal head sizes, exact per-head maths at unequal ones."""

import math
import re

import pytest
import torch

from espnet_dynprune.nets.espnet_compat import MultiHeadedAttention, make_pad_mask
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention

SIZE, HEADS, HEAD_DIM = 32, 4, 8
LENGTHS = torch.tensor([10, 6, 3])


def inputs(seed=0, t=10):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(LENGTHS), t, SIZE, generator=gen)
    return x, ~make_pad_mask(LENGTHS, maxlen=t)[:, None, :]  # (B, 1, T), True = attend


def pruned(qk, vo, seed=0):
    torch.manual_seed(seed)
    attn = PrunedMultiHeadedAttention(SIZE, qk, vo, HEAD_DIM, 0.0).eval()
    with torch.no_grad():  # large random biases, so that a bias mishandled shows
        for linear in (attn.linear_q, attn.linear_k, attn.linear_v, attn.linear_out):
            linear.bias.normal_()
    return attn


def by_hand(attn, query, key, mask):
    """Each head on its own: its slice of the projections, softmax over valid keys, concat, out."""
    q, k, v = attn.linear_q(query), attn.linear_k(key), attn.linear_v(key)
    valid = mask[:, -1, :]  # (B, T2)
    contexts, q0, v0 = [], 0, 0
    for nq, nv in zip(attn.qk_dims, attn.vo_dims):
        vh = v[..., v0:v0 + nv]
        if nq == 0:  # no query/key dims: every valid key weighs the same
            weights = valid.float() / valid.sum(-1, keepdim=True)
            contexts.append(torch.einsum("bk,bkd->bd", weights, vh)[:, None].expand(-1, query.size(1), -1))
        else:
            scores = q[..., q0:q0 + nq] @ k[..., q0:q0 + nq].transpose(1, 2) / math.sqrt(HEAD_DIM)
            scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
            contexts.append(torch.softmax(scores, -1) @ vh)
        q0, v0 = q0 + nq, v0 + nv
    return attn.linear_out(torch.cat(contexts, -1))


def test_equal_heads_equal_espnet_multi_headed_attention():
    torch.manual_seed(0)
    stock = MultiHeadedAttention(HEADS, SIZE, 0.0).eval()
    attn = PrunedMultiHeadedAttention(SIZE, [HEAD_DIM] * HEADS, [HEAD_DIM] * HEADS, HEAD_DIM, 0.0).eval()
    assert set(attn.state_dict()) == set(stock.state_dict())
    attn.load_state_dict(stock.state_dict())
    assert attn.qk_positions is None and attn.vo_positions is None  # nothing to pad
    x, mask = inputs()
    with torch.no_grad():
        assert torch.allclose(attn(x, x, x, mask), stock(x, x, x, mask), atol=1e-5)
        assert torch.allclose(attn(x, x, x, None), stock(x, x, x, None), atol=1e-5)


@pytest.mark.parametrize("qk, vo", [([8, 0, 3, 5], [2, 8, 1, 4]), ([0, 0], [3, 5]), ([6], [8]), ([4, 4], [8, 8])])
def test_unequal_heads_equal_a_head_by_head_reference(qk, vo):
    attn = pruned(qk, vo)
    assert attn.linear_q.out_features == sum(qk) and attn.linear_out.in_features == sum(vo)
    x, mask = inputs()
    with torch.no_grad():
        assert torch.allclose(attn(x, x, x, mask), by_hand(attn, x, x, mask), atol=1e-5)


def test_cross_attention_with_other_key_length_equals_reference():
    attn = pruned([8, 0, 2], [1, 4, 8])
    query = torch.randn(len(LENGTHS), 5, SIZE, generator=torch.Generator().manual_seed(1))
    key, mask = inputs(seed=2)
    with torch.no_grad():
        out = attn(query, key, key, mask)
        assert out.shape == (len(LENGTHS), 5, SIZE)
        assert torch.allclose(out, by_hand(attn, query, key, mask), atol=1e-5)


def test_a_head_with_no_query_key_dims_averages_the_valid_values():
    attn = pruned([0], [HEAD_DIM])
    x, mask = inputs()
    with torch.no_grad():
        out = attn(x, x, x, mask)
        v = attn.linear_v(x)
        for b, n in enumerate(LENGTHS.tolist()):
            mean = attn.linear_out(v[b, :n].mean(0))
            assert torch.allclose(out[b], mean.expand_as(out[b]), atol=1e-5)


@pytest.mark.parametrize(
    "qk, vo",
    [([8, 8], [8]), ([], []), ([8], [0]), ([-1], [8]), ([9], [8]), ([8], [9])],
)
def test_bad_sizes_raise_naming_them(qk, vo):
    with pytest.raises(ValueError, match=re.escape(f"qk {qk}, vo {vo}")):
        PrunedMultiHeadedAttention(SIZE, qk, vo, HEAD_DIM, 0.0)


@pytest.mark.parametrize("qk, vo", [([8] * 4, [8] * 4), ([8, 0, 3], [2, 8, 1])])
def test_padding_keys_get_no_attention_weight(qk, vo):
    attn = pruned(qk, vo)
    x, mask = inputs()
    changed = x.clone()
    for b, n in enumerate(LENGTHS.tolist()):
        changed[b, n:] = 100.0 * torch.randn_like(changed[b, n:])
    with torch.no_grad():
        before, after = attn(x, x, x, mask), attn(changed, changed, changed, mask)
    for b, n in enumerate(LENGTHS.tolist()):
        assert torch.allclose(before[b, :n], after[b, :n], atol=1e-5)
    assert not torch.allclose(before[1, 6:], after[1, 6:])  # the padded frames' own queries did change
