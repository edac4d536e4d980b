"""Recipe stage 13: every decoded test set scored, with its GFLOPs (``analysis.score_decodes``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence

import torch

from espnet_dynprune.analysis import score_decodes as library, scoring
from espnet_dynprune.analysis.score_decodes import score_decodes
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--decode_roots", type=Path, nargs="+", required=True,
                        help="stage 12 decode dirs (one per model x gate pattern), each with one dir per test set")
    parser.add_argument("--test_sets", nargs="+", default=None, help="only these test sets (default: all decoded)")
    parser.add_argument("--max_utts", type=int, default=20, help="utterances whose gates the GFLOPs average")
    args = parser.parse_args(argv)
    configure_logging()
    torch.set_num_threads(1)  # one job of several: stay on one core
    records = score_decodes(**vars(args))
    for r in records:
        for name, signature in r["result"].get("signatures", {}).items():
            print(f"sacrebleu {name} signature: {signature}")
        print(f"{r['decode_dir']} <{r['language']}><{r['task']}>: {scoring.summary_line(r['result'])}, "
              f"GFLOPs {r['flops']['gflops']['total']:.4g}")
    return records


if __name__ == "__main__":
    main()
