"""The grid's raw results collected again from ``exp/`` (``analysis.raw_results``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_dynprune.analysis.raw_results import recollect
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description="Collect the raw results of a grid's experiments again")
    parser.add_argument("--raw_dir", type=Path, default=Path("results/raw"))
    parser.add_argument("--recipe_dir", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    configure_logging()
    redone = recollect(args.raw_dir, args.recipe_dir)
    logging.info(f"collected again: {redone}")
    return redone


if __name__ == "__main__":
    main()
