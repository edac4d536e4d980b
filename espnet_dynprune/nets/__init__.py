"""ESPnet-facing networks, by role: ``layers/`` (one ESPnet layer under gates, under masks, or
rebuilt smaller), ``encoder/`` and ``decoder/`` (every variant users put in a config, side by
side), and below them what they share (release differences, config names, loading)."""
