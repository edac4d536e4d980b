"""The decoders users put in a config: ``transformer_dynprune`` / ``_prunable`` / ``_pruned``,
``whisper_local`` and ``whisper_dynprune``; what beam search keeps between steps."""
