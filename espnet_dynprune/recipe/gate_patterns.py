"""The gate patterns of a decode and their context dependence (``analysis.gate_patterns``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.analysis import gate_patterns as library
from espnet_dynprune.analysis.gate_patterns import Pattern, as_string, write_most_frequent


def main(argv: Optional[Sequence[str]] = None) -> Pattern:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--decode_root", type=Path, required=True, help="a stage-12 decode dir (predicted gates)")
    parser.add_argument("--write_most_frequent", type=Path, required=True, help="pattern file to write")
    args = parser.parse_args(argv)
    pattern = write_most_frequent(args.decode_root, args.write_most_frequent)
    for part, gates in pattern.items():
        print(f"{part}: {as_string(gates)} ({sum(not k for k in gates.values())} of {len(gates)} skipped)")
    return pattern


if __name__ == "__main__":
    main()
