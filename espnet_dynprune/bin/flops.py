"""GFLOPs per utterance of a model's decodes (``analysis.flops``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_dynprune.analysis import flops as library
from espnet_dynprune.analysis.flops import flops_of_decode
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--decode_dir", type=Path, nargs="+", required=True,
                        help="decode dirs (one per test set) holding token and gates.jsonl")
    parser.add_argument("--data_dir", type=Path, nargs="+", required=True,
                        help="the test sets' dump dirs, in the order of --decode_dir")
    parser.add_argument("--s2t_train_config", type=Path, default=None, help="default: the decode's")
    parser.add_argument("--s2t_model_file", type=Path, default=None, help="default: the decode's")
    parser.add_argument("--beam_size", type=int, default=None, help="default: the decode's")
    parser.add_argument("--max_utts", type=int, default=20, help="utterances whose gates are averaged")
    parser.add_argument("--output", type=Path, default=None,
                        help="flops.json to write (one --decode_dir only; default: DECODE_DIR/flops.json)")
    args = parser.parse_args(argv)
    if len(args.decode_dir) != len(args.data_dir):
        parser.error(f"{len(args.decode_dir)} --decode_dir but {len(args.data_dir)} --data_dir: give one per test set")
    if args.output is not None and len(args.decode_dir) > 1:
        parser.error("--output names one file: with several --decode_dir each gets DECODE_DIR/flops.json")
    configure_logging()
    torch.set_num_threads(1)  # one job of several: stay on one core
    options = {k: v for k, v in vars(args).items() if k not in ("decode_dir", "data_dir", "output")}
    models: Dict[Tuple[str, str], tuple] = {}
    results = []
    for decode_dir, data_dir in zip(args.decode_dir, args.data_dir):
        output = args.output or decode_dir / "flops.json"
        results.append(flops_of_decode(decode_dir, data_dir, output=output, models=models, **options))
        print(f"{decode_dir}: {json.dumps(results[-1]['gflops'])}")
    return results


if __name__ == "__main__":
    main()
