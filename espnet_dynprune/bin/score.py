"""WER or BLEU of a hypothesis file against a reference file (``analysis.scoring``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.analysis import scoring as library
from espnet_dynprune.analysis.scoring import score_files, summary_line
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--ref_text", type=Path, required=True, help="OWSM text of the test set")
    parser.add_argument("--hyp_text", type=Path, required=True, help="decode output: utt hypothesis")
    parser.add_argument("--task", required=True, help="asr or st_xxx (e.g. st_eng)")
    parser.add_argument("--output", type=Path, default=None, help="result.json to write")
    args = parser.parse_args(argv)
    configure_logging()
    result = score_files(**vars(args))
    for name, signature in result.get("signatures", {}).items():
        print(f"sacrebleu {name} signature: {signature}")
    print(summary_line(result))
    return result


if __name__ == "__main__":
    main()
