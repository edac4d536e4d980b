"""The names ESPnet configs give this package's classes (``encoder: e_branchformer_dynprune``, ...).

Registration adds the classes to ESPnet's tables under these names; the config tools (fine-tuning
configs, the static-pruning export) write them. One place, so a name cannot drift between them.
"""

ENCODER_NAME = "e_branchformer_dynprune"
DECODER_NAME = "transformer_dynprune"
MODEL_NAME = "dynprune"
PRUNABLE_ENCODER_NAME = "e_branchformer_prunable"  # static pruning: the masked students
PRUNABLE_DECODER_NAME = "transformer_prunable"
PRUNED_ENCODER_NAME = "e_branchformer_pruned"  # static pruning: the exported, smaller parts
PRUNED_DECODER_NAME = "transformer_pruned"
DISTILL_MODEL_NAME = "distill_prune"
MAGNITUDE_MODEL_NAME = "magnitude_prune"  # unstructured magnitude pruning (fixed mask or PARP)
WHISPER_NAME = "whisper_local"  # ESPnet's Whisper encoder / decoder, built from a local checkpoint file
WHISPER_DYNPRUNE_NAME = "whisper_dynprune"  # ESPnet's Whisper encoder / decoder, gated (decoder: cached keys/values)
WHISPER_PRUNABLE_NAME = "whisper_prunable"  # static pruning of ESPnet's Whisper encoder: the masked student
WHISPER_PRUNED_NAME = "whisper_pruned"  # ... and the exported, smaller encoder
