"""fvcore counts with the fused attention handle."""

import torch

from espnet_dynprune.analysis.macs import count_macs


def test_fused_attention_is_counted():
    """fvcore has no rule for scaled_dot_product_attention (the dynprune decoder's source attention,
    the pruned encoder's attention): count_macs adds its score and context products."""
    class Attend(torch.nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    assert count_macs(Attend(), (q, k, v)) == 2 * 3 * 5 * 7 * (8 + 4)
