"""The paper's tables of a recipe rendered from its raw results (``analysis.paper_results``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.analysis import paper_results as library
from espnet_dynprune.analysis.paper_results import render
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--raw_dir", type=Path, default=Path("results/raw"))
    parser.add_argument("--header", type=Path, default=None, help="markdown put first (setup, commands)")
    parser.add_argument("--output", type=Path, default=Path("RESULTS.md"))
    args = parser.parse_args(argv)
    configure_logging()
    header = args.header.read_text(encoding="utf-8") if args.header else ""
    text = render(args.raw_dir, args.output, header)
    logging.info(f"wrote {args.output} ({len(text)} characters)")
    return text


if __name__ == "__main__":
    main()
