"""``python -m espnet_dynprune.bin.throughput``: utterances per second, stock ESPnet vs this project.

The end-to-end ladder of :mod:`espnet_dynprune.analysis.throughput` on OWSM v3.1 shapes (random
weights, shared by the stock and the dynprune model): stock ESPnet one utterance at a time and, on
ESPnet 202611, 8 in one search (``stock:8``, its ``Speech2Text(batch_size=8)``), then cached source
K/V, batching, pruning and reduced precision added one by one, each rung's utterances per second
and its ratios to the first rung and to ``stock:8``, measured side by side in one run, whether its
hypotheses equal the first rung's, and its peak memory. Prints a table per size; writes JSON.

``python -m espnet_dynprune.bin.throughput --sizes base,1b --repeats 1``
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import List, Optional

import torch
from espnet2.utils.types import str2bool

from espnet_dynprune.analysis.bench import Bench
from espnet_dynprune.analysis.owsm_architecture import owsm_sizes
from espnet_dynprune.analysis.throughput import LADDER, markdown, measure, parse_rung, precisions_needed, profile
from espnet_dynprune.bin.bench import add_utterance_arguments, new_report
from espnet_dynprune.logs import configure_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1b",
                        help=f"comma-separated, of {sorted(owsm_sizes())} or paths of dynprune S2T config files")
    parser.add_argument("--ladder", nargs="+", type=parse_rung, default=[parse_rung(r) for r in LADDER],
                        help="rungs MODEL:BATCH[/ENCODER_BATCH][:ENCODER:DECODER] (MODEL: stock, dense, a sparsity "
                             "of both parts or ENC,DEC such as 0.9,on); the first is what the others are "
                             "compared with")
    parser.add_argument("--utterances", type=int, default=8, help="decoded by every rung (mixed languages/tasks)")
    add_utterance_arguments(parser)
    parser.add_argument("--repeats", type=int, default=1, help="timed rounds (medians); a 1B round takes ~15 min here")
    parser.add_argument("--memory", type=str2bool, default=True,
                        help="also measure each rung's peak memory (one batch, after the timed rounds)")
    parser.add_argument("--gmac", type=str2bool, default=False,
                        help="also count fvcore GMAC per utterance (the patterns each ran) and each pruned "
                             "rung's time ratio over its GMAC ratio against the dense rung at its batch/precision")
    parser.add_argument("--profile", nargs="*", type=parse_rung, default=[],
                        help="rungs of the ladder to profile afterwards: one batch's operators by CPU time "
                             "(the profiler holds every event: a 1B batch of 8 needs over 20 GB)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--output", type=Path, default=Path("throughput.json"))
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    configure_logging()
    logging.getLogger("espnet").setLevel(logging.WARNING)
    if args.utterances < 1:
        raise SystemExit(f"--utterances must be >= 1, got {args.utterances}")
    if args.threads:
        torch.set_num_threads(args.threads)
    rungs = args.ladder
    unknown = [r.spec for r in args.profile if r not in rungs]
    if unknown:
        raise SystemExit(f"--profile {unknown}: not rungs of --ladder {[r.spec for r in rungs]}")
    report = new_report(args)
    report["settings"].update(ladder=[r.spec for r in rungs], profile=[r.spec for r in args.profile])
    for size in [s for s in args.sizes.split(",") if s]:
        bench = Bench(size, args.speech_seconds, args.steps, args.beam_size, device=args.device,
                      precisions=precisions_needed(rungs), utterances=args.utterances)
        report["sizes"][size] = results = measure(bench, rungs, args.utterances, args.repeats, args.memory,
                                                  args.gmac)
        args.output.write_text(json.dumps(report, indent=1), encoding="utf-8")  # kept if a profile runs out
        for rung in args.profile:
            results[rung.spec]["profile"] = profile(bench, rung)
            args.output.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(markdown(size, results), flush=True)
    logging.info(f"wrote {args.output}")


if __name__ == "__main__":
    main()
