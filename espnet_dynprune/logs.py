"""One log format for every command and recipe stage: ESPnet's own, so a recipe's logs read alike."""

from __future__ import annotations

import logging

#: ESPnet's format (``espnet2.bin.*``): time, (module:line), level, message.
FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr in :data:`FORMAT` (a command's ``main`` calls it once)."""
    logging.basicConfig(level=level, format=FORMAT)
