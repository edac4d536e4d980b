"""Static structured pruning (arXiv 2306.01385): hard-concrete masks on an ESPnet E-Branchformer,
distillation from the unpruned model as an ESPnet training, and export into a smaller model."""
