"""ESPnet-facing modules: gated encoder, decoder, S2T model, inference, loading."""
