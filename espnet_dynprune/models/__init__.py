"""The S2T models (``model: dynprune``, ``distill_prune``, ``magnitude_prune``), their losses, and
the export of a distillation-pruned model into the smaller one stock ESPnet loads."""
