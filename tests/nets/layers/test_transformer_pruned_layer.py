"""A decoder layer rebuilt at pruned sizes: removed modules have no parameters and are the identity,
and a cached step computes the newest position of the teacher-forced output."""

import torch

from espnet_dynprune.nets.espnet_compat import subsequent_mask
from espnet_dynprune.nets.layers.layer_sizes import DecoderLayerSizes
from espnet_dynprune.nets.layers.transformer_pruned_layer import PrunedDecoderLayer

SIZES = DecoderLayerSizes(self_attn_qk=[8, 3], self_attn_vo=[8, 5], src_attn_qk=[], src_attn_vo=[], ffn_units=20)


def layer() -> PrunedDecoderLayer:
    torch.manual_seed(0)
    return PrunedDecoderLayer(32, SIZES, 8, 0.0, 0.0, 0.0).eval()


def test_a_removed_module_has_no_parameters_and_is_the_identity():
    pruned = layer()
    assert pruned.src_attn is None and pruned.norm2 is None
    assert not any(name.startswith(("src_attn.", "norm2.")) for name in pruned.state_dict())
    tgt, memory = torch.randn(2, 4, 32), torch.randn(2, 6, 32)
    mask = subsequent_mask(4).unsqueeze(0)
    with torch.no_grad():
        out = pruned(tgt, mask, memory, None)[0]
        other = pruned(tgt, mask, torch.randn(2, 6, 32), None)[0]
    assert torch.equal(out, other)  # the memory is never read


def test_a_cached_step_is_the_newest_position_of_the_teacher_forced_output():
    pruned = layer()
    tgt, memory = torch.randn(2, 5, 32), torch.randn(2, 6, 32)
    mask = subsequent_mask(5).unsqueeze(0).expand(2, 5, 5)
    with torch.no_grad():
        full = pruned(tgt, mask, memory, None)[0]
        cache = pruned(tgt[:, :-1], mask[:, :-1, :-1], memory, None)[0]
        step = pruned(tgt, mask, memory, None, cache=cache)[0]
    assert torch.allclose(step, full, atol=1e-5)
