"""Released OWSM models in ESPnet's model-zoo layout: read, merge for fine-tuning, pack."""
