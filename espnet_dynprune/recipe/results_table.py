"""Recipe results table over experiments (``analysis.results_table``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.analysis import results_table as library
from espnet_dynprune.analysis.results_table import results_table
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--exp_dirs", type=Path, nargs="+", required=True)
    parser.add_argument("--output_dir", type=Path, required=True, help="where results.md/.csv go")
    args = parser.parse_args(argv)
    configure_logging()
    text = results_table(**vars(args))
    print(text)
    return text


if __name__ == "__main__":
    main()
