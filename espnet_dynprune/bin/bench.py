"""``python -m espnet_dynprune.bin.bench`` (or ``espnet-dynprune-bench``): OWSM decoding speed.

Builds OWSM v3.1 architectures (the drop-in configs in conf/, or any dynprune
S2T config file) with random weights and prints, per size, the
side-by-side table of stock ESPnet, dynprune dense (cached source K/V) and
forced sparsities, with the targets; writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import List, Optional

from espnet_dynprune.analysis.bench import PARTS, SPARSITIES, Bench, configurations, measure, measure_mixed_batch
from espnet_dynprune.analysis.bench_report import markdown, targets
from espnet_dynprune.analysis.environment import machine
from espnet_dynprune.analysis.owsm_architecture import owsm_sizes
from espnet_dynprune.inference.precision import PRECISIONS, parse_precisions
from espnet_dynprune.logs import configure_logging


def float_list(text: str) -> List[float]:
    """``0.1,0.3`` -> [0.1, 0.3] (an argparse type, shared with ``bin.static_bench``)."""
    return [float(x) for x in text.split(",") if x]


def add_utterance_arguments(parser: argparse.ArgumentParser) -> None:
    """What one benchmarked utterance is (shared with ``bin.throughput``)."""
    parser.add_argument("--speech_seconds", type=float, default=30.0, help="OWSM pads every input to 30 s")
    parser.add_argument("--steps", type=int, default=23, help="beam-search steps (output tokens + 1)")
    parser.add_argument("--beam_size", type=int, default=5)


def new_report(args: argparse.Namespace) -> dict:
    """A benchmark report: the settings, the machine, and (filled in later) the sizes."""
    return {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": machine(args.device),
            "sizes": {}}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="base,1b",
                        help=f"comma-separated, of {sorted(owsm_sizes())} or paths of dynprune S2T config files")
    parser.add_argument("--parts", default=",".join(PARTS), help="pruned parts to sweep")
    parser.add_argument("--sparsities", type=float_list, default=list(SPARSITIES))
    parser.add_argument("--static_sparsities", type=float_list, default=[],
                        help="also time the model statically pruned at these sparsities (encoder and decoder each, "
                             "preset masks, exported), e.g. 0.5")
    parser.add_argument("--precisions", default="",
                        help="also time the dynprune configurations at these comma-separated encoder:decoder "
                             "precisions (fp32, bf16, int8), e.g. int8:int8,bf16:bf16,fp32:int8")
    add_utterance_arguments(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--mixed_sparsity", type=float, default=0.5,
                        help="forced sparsity of the batch-8 mixed-pattern run; negative skips it")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--output", type=Path, default=Path("bench.json"))
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    configure_logging()
    logging.getLogger("espnet").setLevel(logging.WARNING)
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"--parts: unknown {sorted(unknown)}; choose from {list(PARTS)}")
    bad = [s for s in args.static_sparsities if not 0.0 <= s < 1.0]
    if bad:
        raise SystemExit(f"--static_sparsities: each must be in [0, 1), got {bad}")
    precisions = [p for p in args.precisions.split(",") if p]
    wrong = []
    for p in precisions:
        try:
            parse_precisions(p)
        except ValueError:
            wrong.append(p)
    if wrong:
        raise SystemExit(f"--precisions: {wrong} are not encoder:decoder of {PRECISIONS}")
    report = new_report(args)
    for size in [s for s in args.sizes.split(",") if s]:
        bench = Bench(size, args.speech_seconds, args.steps, args.beam_size, device=args.device,
                      static_sparsities=args.static_sparsities, precisions=precisions)
        def save(partial: dict, size: str = size) -> None:
            report["sizes"][size] = {"results": partial}
            args.output.write_text(json.dumps(report, indent=1), encoding="utf-8")

        configs = configurations(parts, args.sparsities, args.static_sparsities, precisions)
        results = measure(bench, configs, args.repeats, args.warmup, save=save)
        mixed = None
        if args.mixed_sparsity >= 0:
            mixed = measure_mixed_batch(bench, args.mixed_sparsity, args.repeats, args.warmup)
        print(markdown(size, results, mixed), flush=True)
        report["sizes"][size] = {"results": results, "mixed_batch": mixed, "targets": targets(results, mixed)}
        args.output.write_text(json.dumps(report, indent=1), encoding="utf-8")
    logging.info(f"wrote {args.output}")


if __name__ == "__main__":
    main()
