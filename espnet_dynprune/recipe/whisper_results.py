"""The Whisper recipe's results page (``analysis.whisper_results``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.analysis import whisper_results as library
from espnet_dynprune.analysis.whisper_results import collect, markdown
from espnet_dynprune.logs import configure_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=library.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode_dir", required=True, help="--out_dir of recipe.whisper_decode")
    parser.add_argument("--test_dirs", nargs="+", required=True)
    parser.add_argument("--systems", default="espnet,faster_whisper:float32,faster_whisper:int8",
                        help="comma-separated, the baseline of the paired tests first")
    parser.add_argument("--output", required=True, help="JSON file to write")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    configure_logging()
    args = get_parser().parse_args(argv)
    results = collect(args.decode_dir, args.test_dirs, [s.strip() for s in args.systems.split(",") if s.strip()])
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(results), end="")


if __name__ == "__main__":
    main()
