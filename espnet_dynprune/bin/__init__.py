"""Command-line entry points (``python -m espnet_dynprune.bin.<name>``)."""
