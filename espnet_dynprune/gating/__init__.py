"""Pure-PyTorch gating: Gumbel gates, predictor, forcing, row dispatch, sparsity.

Nothing in this package imports ESPnet, so it can serve any network.
"""
