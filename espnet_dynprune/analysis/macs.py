"""fvcore multiply-add counts of a module call, fused attention included.

fvcore counts matmul/linear/conv ops of a traced call, but not PyTorch's fused
``scaled_dot_product_attention``, which the pruned attention uses; this module adds its
handle, so every count in the package (GFLOPs per utterance, the static benchmark's GMAC)
is the same count.
"""

from __future__ import annotations

import logging
from math import prod

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape


def _attention_macs(inputs, outputs) -> int:
    """``scaled_dot_product_attention``, which fvcore does not count: the score and context
    products, (batch, heads) x query length x key length x (q/k width + value width)."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    return prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])


def count_macs(module: torch.nn.Module, inputs: tuple) -> float:
    """fvcore's count of ``module(*inputs)`` (plus fused attention); unsupported ops listed at
    debug level.

    Traced without autograd: a 1B model's traced graph with saved activations does
    not fit in 24 GB.
    """
    analysis = FlopCountAnalysis(module, inputs).set_op_handle("aten::scaled_dot_product_attention", _attention_macs)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    with torch.no_grad():
        total = float(analysis.total())
    if analysis.unsupported_ops():
        logging.debug(f"fvcore did not count: {dict(analysis.unsupported_ops())}")
    return total


class Call(torch.nn.Module):
    """A traceable module around a function of the model (fvcore traces modules)."""

    def __init__(self, model: torch.nn.Module, fn) -> None:
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(*inputs)
