"""Source keys/values projected once per utterance: attending with them is ESPnet's source attention,
for several hypotheses per utterance, padded frames, and a statically pruned module."""

import pytest
import torch

from espnet_dynprune.nets.espnet_compat import MultiHeadedAttention, make_pad_mask
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention
from espnet_dynprune.nets.layers.source_attention import attend, project_source


def memory_and_mask() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(2, 7, 16), ~make_pad_mask(torch.tensor([7, 4]))[:, None, :]


@pytest.mark.parametrize("attn", [
    lambda: MultiHeadedAttention(4, 16, 0.0),
    lambda: PrunedMultiHeadedAttention(16, [4, 2, 3], [4, 1, 4], 4, 0.0),
], ids=["stock", "pruned"])
def test_once_per_utterance_equals_the_module_run_per_hypothesis(attn):
    attn = attn().eval()
    memory, mask = memory_and_mask()
    beam = 3
    query = torch.randn(2 * beam, 5, 16)  # the rows of each utterance contiguous
    source = project_source(attn, memory, mask)
    assert source.num_utterances == 2
    with torch.no_grad():
        once = attend(attn, query, source)
        per_row = attn(query, memory.repeat_interleave(beam, 0), memory.repeat_interleave(beam, 0),
                       mask.repeat_interleave(beam, 0))
    assert once.shape == query.shape
    assert torch.allclose(once, per_row, atol=1e-5)


def test_padded_frames_get_no_attention():
    attn = MultiHeadedAttention(4, 16, 0.0).eval()
    memory, mask = memory_and_mask()
    query = torch.randn(2, 3, 16)
    changed = memory.clone()
    changed[1, 4:] = 100.0  # utterance 1 has 4 real frames
    with torch.no_grad():
        before = attend(attn, query, project_source(attn, memory, mask))
        after = attend(attn, query, project_source(attn, changed, mask))
    assert torch.allclose(before, after, atol=1e-6)
