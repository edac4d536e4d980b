"""Layer-level pieces: a stock ESPnet layer run under dynamic gates (``*_dynprune_layer``), under
learnt masks (``*_prunable_layer``), or rebuilt at its pruned sizes (``*_pruned_layer``)."""
