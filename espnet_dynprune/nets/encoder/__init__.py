"""The encoders users put in a config: ``e_branchformer_dynprune`` / ``_prunable`` / ``_pruned``,
``whisper_local`` and ``whisper_dynprune``."""
