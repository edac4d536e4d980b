"""The steps the gated and masked encoders share with ESPnet's: checkpointing exactly the layers
``gradient_checkpoint_layers`` names, and the input layer's "too short" error naming the sizes."""

import pytest
import torch
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.encoder_steps import checkpointed, embed
from espnet_dynprune.nets.espnet_compat import TooShortUttError


class Part(torch.nn.Module):
    gradient_checkpoint_layers = [1]


def test_only_the_named_layers_are_recomputed_in_backward():
    calls = {0: 0, 1: 0}

    def layer(index):
        def run(x):
            calls[index] += 1
            return x * x  # saves x for backward, so a checkpoint must recompute it
        return run

    x = torch.ones(3, requires_grad=True)
    out = checkpointed(Part(), 0, layer(0), x) + checkpointed(Part(), 1, layer(1), x)
    out.sum().backward()
    assert calls == {0: 1, 1: 2}  # layer 1 ran again in backward
    assert torch.equal(x.grad, torch.full((3,), 4.0))
    with torch.no_grad():
        checkpointed(Part(), 1, layer(1), x)
    assert calls[1] == 3  # no graph, no checkpoint


def test_an_input_too_short_for_the_input_layer_is_refused_naming_both_lengths():
    encoder = EBranchformerEncoder(20, output_size=16, attention_heads=2, num_blocks=1, input_layer="conv2d",
                                   linear_units=16, cgmlp_linear_units=16)
    masks = torch.ones(1, 1, 5, dtype=torch.bool)
    with pytest.raises(TooShortUttError, match="input of 5 frames is too short for Conv2dSubsampling"):
        embed(encoder, torch.randn(1, 5, 20), masks)
    x, out_masks = embed(encoder, torch.randn(1, 30, 20), torch.ones(1, 1, 30, dtype=torch.bool))
    assert (x[0] if isinstance(x, tuple) else x).shape[:2] == out_masks.shape[::2]
