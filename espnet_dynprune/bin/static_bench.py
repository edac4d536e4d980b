"""``python -m espnet_dynprune.bin.static_bench``: speed of statically pruned OWSM encoders.

Builds the OWSM v3.1 encoder of each size (the drop-in configs in conf/, or any dynprune S2T
config file) with random weights, sets its masks at each sparsity, exports it, and times
every exported encoder against the dense ESPnet one in one round-robin run; prints, per size,
the table and the target (time ratio within 1.1x of the GMAC ratio), and writes JSON.

``--zoo_dirs DENSE EXPORTED...`` times trained models instead (model-zoo dirs, e.g. the
recipe's stand-in and ``exp/static_prune_0.7/zoo``), against the first, with the targets for
trained models (encoder time <= 0.5x, >= 70% fewer encoder parameters); ``--decode_steps N``
also times their whole decoding (encoder + ``N`` beam steps, ``analysis.zoo_decode_bench``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import List, Optional

import torch

from espnet_dynprune.analysis.owsm_architecture import owsm_sizes
from espnet_dynprune.analysis.static_bench import bench_size, bench_zoo_dirs, markdown, targets, trained_targets
from espnet_dynprune.analysis.zoo_decode_bench import bench_zoo_decoding, markdown as decode_markdown
from espnet_dynprune.bin.bench import float_list, new_report
from espnet_dynprune.logs import configure_logging
from espnet_dynprune.registration import register_s2t


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="base,1b",
                        help=f"comma-separated, of {sorted(owsm_sizes())} or paths of dynprune S2T config files")
    parser.add_argument("--sparsities", type=float_list, default=[0.5, 0.7],
                        help="fractions of the prunable encoder parameters to remove, each in [0, 1)")
    parser.add_argument("--zoo_dirs", nargs="+", default=None, metavar="DIR",
                        help="time these trained models' encoders against the first instead of --sizes")
    parser.add_argument("--frames", type=int, default=None,
                        help="feature frames (default: 3000 = OWSM's 30 s; with --zoo_dirs 600 = the stand-in's 6 s)")
    parser.add_argument("--decode_steps", type=int, default=0,
                        help="with --zoo_dirs: also time decoding 6 s of speech for this many beam-5 steps (0: no)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0, help="of the weights, the features and the masks")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--out", "--output", dest="out", type=Path, default=Path("static_bench.json"))
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    configure_logging()
    logging.getLogger("espnet").setLevel(logging.WARNING)
    bad = [s for s in args.sparsities if not 0.0 <= s < 1.0]
    if bad:
        raise SystemExit(f"--sparsities: each must be in [0, 1), got {bad}")
    if args.repeats < 1 or args.warmup < 0:
        raise SystemExit(f"--repeats must be >= 1 and --warmup >= 0, got {args.repeats} and {args.warmup}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.frames is None:
        args.frames = 600 if args.zoo_dirs else 3000
    report = new_report(args)
    if args.zoo_dirs:
        register_s2t()
        results = bench_zoo_dirs(args.zoo_dirs, args.repeats, args.warmup, args.frames, args.seed, args.device)
        print(markdown("trained models'", results, trained_targets(results)), flush=True)
        report["zoo_dirs"] = {"results": results, "targets": trained_targets(results)}
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
        if args.decode_steps > 0:
            decoding = bench_zoo_decoding(args.zoo_dirs, steps=args.decode_steps, repeats=args.repeats,
                                          warmup=args.warmup, seed=args.seed, log=logging.info)
            print(decode_markdown(decoding, args.decode_steps, 5), flush=True)
            report["zoo_dirs"]["decoding"] = decoding
            args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    for size in [] if args.zoo_dirs else [s for s in args.sizes.split(",") if s]:
        results = bench_size(size, args.sparsities, args.repeats, args.warmup, args.frames, args.seed,
                             args.device)
        print(markdown(f"OWSM v3.1 {size}", results), flush=True)
        report["sizes"][size] = {"results": results, "targets": targets(results)}
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    logging.info(f"wrote {args.out}")


if __name__ == "__main__":
    main()
