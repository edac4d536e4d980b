"""``python -m espnet_dynprune.bin.bench SCOPE ...`` (or ``espnet-dynprune-bench``): every speed benchmark.

One command on one timer (``analysis.clock``: untimed warm-up rounds, then every candidate once
per round in turn, medians and spread, a clock that waits for the GPU); each scope prints its
table(s) with the ratios measured side by side in that run and writes everything as JSON:

  encoder     static pruning's encoders: OWSM v3.1 shapes (--sizes) or real Whisper models (--whisper)
              with masks preset at --sparsities and exported, or trained model-zoo dirs (--zoo_dirs,
              the first is the baseline; --decode_steps also times their whole decoding), against
              ESPnet's dense encoder
  decode      OWSM v3.1 shapes' decoding: stock ESPnet's beam search, dynprune dense (source K/V
              cached) and forced dynamic sparsities per part, static sparsities and precisions,
              a batch of mixed patterns
  throughput  end to end, utterances per second: a ladder of rungs MODEL:BATCH[:ENCODER:DECODER]
              (stock ESPnet, dense, a sparsity), hypotheses checked against the first rung's,
              peak memory, GMAC, operator profiles
  experiment  a trained model of the recipe on a test set's real audio: batch and precision
              configurations, their WER or BLEU, and whether the hypotheses stay the first's

``python -m espnet_dynprune.bin.bench throughput --sizes base --repeats 1``
``python -m espnet_dynprune.bin.bench SCOPE --help`` lists a scope's options.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
from espnet2.utils.types import str2bool

from espnet_dynprune.analysis import bench, bench_report, static_bench, throughput, zoo_decode_bench
from espnet_dynprune.analysis.environment import machine
from espnet_dynprune.analysis.owsm_architecture import owsm_sizes
from espnet_dynprune.inference.precision import PRECISIONS, parse_config, parse_precisions
from espnet_dynprune.logs import configure_logging

SIZES_HELP = f"comma-separated, of {sorted(owsm_sizes())} or paths of dynprune S2T config files"


def float_list(text: str) -> List[float]:
    """``0.1,0.3`` -> [0.1, 0.3]."""
    return [float(x) for x in text.split(",") if x]


def fractions(option: str, values: List[float]) -> None:
    bad = [s for s in values if not 0.0 <= s < 1.0]
    if bad:
        raise SystemExit(f"{option}: each must be in [0, 1), got {bad}")


def sizes(args: argparse.Namespace) -> List[str]:
    return [s for s in args.sizes.split(",") if s]


class Report:
    """A scope's JSON: its settings, the machine, and its results, written again after each part
    (a run that is stopped keeps what it measured)."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "run"}
        self.output: Path = args.output
        self.data: dict = {"settings": settings, "machine": machine(args.device)}

    def save(self) -> None:
        self.output.write_text(json.dumps(self.data, indent=1) + "\n", encoding="utf-8")


def run_encoder(args: argparse.Namespace) -> None:
    from espnet_dynprune.registration import register_s2t

    fractions("--sparsities", args.sparsities)
    if args.whisper and args.zoo_dirs:
        raise SystemExit("--whisper and --zoo_dirs: give one of them")
    if args.frames is None:
        args.frames = 600 if args.zoo_dirs else 3000
    report = Report(args)
    if args.zoo_dirs:
        register_s2t()
        results = static_bench.bench_zoo_dirs(args.zoo_dirs, args.repeats, args.warmup, args.frames, args.seed,
                                              args.device)
        print(static_bench.markdown("trained models'", results, static_bench.trained_targets(results)), flush=True)
        report.data["zoo_dirs"] = {"results": results, "targets": static_bench.trained_targets(results)}
        report.save()
        if args.decode_steps > 0:
            decoding = zoo_decode_bench.bench_zoo_decoding(args.zoo_dirs, steps=args.decode_steps,
                                                           repeats=args.repeats, warmup=args.warmup, seed=args.seed,
                                                           log=logging.info)
            print(zoo_decode_bench.markdown(decoding, args.decode_steps, 5), flush=True)
            report.data["zoo_dirs"]["decoding"] = decoding
            report.save()
        return
    if args.whisper:
        from espnet_dynprune.whisper.packages import openai_checkpoint

        report.data["whisper"] = {}
        for model in [m for m in args.whisper.split(",") if m]:
            with tempfile.TemporaryDirectory() as tmp:
                checkpoint = openai_checkpoint(model, args.cache_dir or tmp)
                results = static_bench.bench_whisper(checkpoint, args.sparsities, args.repeats, args.warmup,
                                                     args.seconds, args.seed, args.device)
            print(static_bench.markdown(f"Whisper {model}", results), flush=True)
            report.data["whisper"][model] = {"results": results, "targets": static_bench.targets(results)}
            report.save()
        return
    report.data["sizes"] = {}
    for size in sizes(args):
        results = static_bench.bench_size(size, args.sparsities, args.repeats, args.warmup, args.frames, args.seed,
                                          args.device)
        print(static_bench.markdown(f"OWSM v3.1 {size}", results), flush=True)
        report.data["sizes"][size] = {"results": results, "targets": static_bench.targets(results)}
        report.save()


def run_decode(args: argparse.Namespace) -> None:
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(bench.PARTS)
    if unknown:
        raise SystemExit(f"--parts: unknown {sorted(unknown)}; choose from {list(bench.PARTS)}")
    fractions("--static_sparsities", args.static_sparsities)
    precisions = [p for p in args.precisions.split(",") if p]
    wrong = []
    for p in precisions:
        try:
            parse_precisions(p)
        except ValueError:
            wrong.append(p)
    if wrong:
        raise SystemExit(f"--precisions: {wrong} are not encoder:decoder of {PRECISIONS}")
    report = Report(args)
    report.data["sizes"] = {}
    for size in sizes(args):
        timed = bench.Bench(size, args.speech_seconds, args.steps, args.beam_size, device=args.device,
                            static_sparsities=args.static_sparsities, precisions=precisions)

        def save(partial: dict, size: str = size) -> None:
            report.data["sizes"][size] = {"results": partial}
            report.save()

        configs = bench.configurations(parts, args.sparsities, args.static_sparsities, precisions)
        results = bench.measure(timed, configs, args.repeats, args.warmup, save=save)
        mixed = None
        if args.mixed_sparsity >= 0:
            mixed = bench.measure_mixed_batch(timed, args.mixed_sparsity, args.repeats, args.warmup)
        print(bench_report.markdown(size, results, mixed), flush=True)
        report.data["sizes"][size] = {"results": results, "mixed_batch": mixed,
                                      "targets": bench_report.targets(results, mixed)}
        report.save()


def run_throughput(args: argparse.Namespace) -> None:
    if args.utterances < 1:
        raise SystemExit(f"--utterances must be >= 1, got {args.utterances}")
    rungs = args.ladder
    unknown = [r.spec for r in args.profile if r not in rungs]
    if unknown:
        raise SystemExit(f"--profile {unknown}: not rungs of --ladder {[r.spec for r in rungs]}")
    report = Report(args)
    report.data["settings"].update(ladder=[r.spec for r in rungs], profile=[r.spec for r in args.profile])
    report.data["sizes"] = {}
    for size in sizes(args):
        timed = bench.Bench(size, args.speech_seconds, args.steps, args.beam_size, device=args.device,
                            precisions=throughput.precisions_needed(rungs), utterances=args.utterances)
        report.data["sizes"][size] = results = throughput.measure(timed, rungs, args.utterances, args.repeats,
                                                                  args.memory, args.gmac, args.warmup)
        report.save()  # kept if a profile runs out of memory
        for rung in args.profile:
            results[rung.spec]["profile"] = throughput.profile(timed, rung)
            report.save()
        print(throughput.markdown(size, results), flush=True)


def run_experiment(args: argparse.Namespace) -> None:
    from espnet_dynprune.recipe.batch_decode_bench import bench_configs, markdown

    if args.utts < 1:
        raise SystemExit(f"--utts must be >= 1, got {args.utts}")
    report = Report(args)
    report.data["settings"]["configs"] = [":".join(map(str, c)) for c in args.configs]
    results = bench_configs(args.data_dir, args.s2t_train_config, args.s2t_model_file, args.configs, args.utts,
                            args.repeats, args.warmup, args.beam_size, args.gates, args.device)
    print(markdown(results), flush=True)
    report.data["results"] = results
    report.save()


def add_encoder(scopes: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = scopes.add_parser("encoder", parents=[common], help="static pruning's encoders against the dense one")
    p.add_argument("--sizes", default="base,1b", help=SIZES_HELP)
    p.add_argument("--sparsities", type=float_list, default=[0.5, 0.7],
                   help="fractions of the prunable encoder parameters to remove, each in [0, 1)")
    p.add_argument("--zoo_dirs", nargs="+", default=None, metavar="DIR",
                   help="time these trained models' encoders against the first instead of --sizes")
    p.add_argument("--whisper", default="",
                   help="instead of --sizes: comma-separated real Whisper models (tiny.en, base: the PyPI weight "
                        "packages; or OpenAI .pt files), ESPnet's Whisper encoder against whisper_pruned ones")
    p.add_argument("--seconds", type=float, default=30.0, help="with --whisper: seconds of speech per call")
    p.add_argument("--cache_dir", default="", help="with --whisper: where converted checkpoints are kept "
                                                   "(default: a temporary directory)")
    p.add_argument("--frames", type=int, default=None,
                   help="feature frames (default: 3000 = OWSM's 30 s; with --zoo_dirs 600 = the stand-in's 6 s)")
    p.add_argument("--decode_steps", type=int, default=0,
                   help="with --zoo_dirs: also time decoding 6 s of speech for this many beam-5 steps (0: no)")
    p.add_argument("--seed", type=int, default=0, help="of the weights, the features and the masks")
    p.set_defaults(run=run_encoder, output=Path("bench_encoder.json"))


def add_utterance(p: argparse.ArgumentParser) -> None:
    """What one benchmarked OWSM utterance is."""
    p.add_argument("--speech_seconds", type=float, default=30.0, help="OWSM pads every input to 30 s")
    p.add_argument("--steps", type=int, default=23, help="beam-search steps (output tokens + 1)")
    p.add_argument("--beam_size", type=int, default=5)


def add_decode(scopes: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = scopes.add_parser("decode", parents=[common], help="OWSM shapes' decoding per forced sparsity")
    p.add_argument("--sizes", default="base,1b", help=SIZES_HELP)
    p.add_argument("--parts", default=",".join(bench.PARTS), help="pruned parts to sweep")
    p.add_argument("--sparsities", type=float_list, default=list(bench.SPARSITIES))
    p.add_argument("--static_sparsities", type=float_list, default=[],
                   help="also time the model statically pruned at these sparsities (encoder and decoder each, "
                        "preset masks, exported), e.g. 0.5")
    p.add_argument("--precisions", default="",
                   help="also time the dynprune configurations at these comma-separated encoder:decoder "
                        "precisions (fp32, bf16, int8), e.g. int8:int8,bf16:bf16,fp32:int8")
    p.add_argument("--mixed_sparsity", type=float, default=0.5,
                   help="forced sparsity of the batch-8 mixed-pattern run; negative skips it")
    add_utterance(p)
    p.set_defaults(run=run_decode, output=Path("bench_decode.json"))


def add_throughput(scopes: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = scopes.add_parser("throughput", parents=[common], help="end to end, utterances per second")
    p.add_argument("--sizes", default="1b", help=SIZES_HELP)
    p.add_argument("--ladder", nargs="+", type=throughput.parse_rung,
                   default=[throughput.parse_rung(r) for r in throughput.LADDER],
                   help="rungs MODEL:BATCH[/ENCODER_BATCH][:ENCODER:DECODER] (MODEL: stock, dense, a sparsity of both "
                        "parts or ENC,DEC such as 0.9,on); the first is what the others are compared with")
    p.add_argument("--utterances", type=int, default=8, help="decoded by every rung (mixed languages/tasks)")
    add_utterance(p)
    p.add_argument("--memory", type=str2bool, default=True,
                   help="also measure each rung's peak memory (one batch, after the timed rounds)")
    p.add_argument("--gmac", type=str2bool, default=False,
                   help="also count fvcore GMAC per utterance (the patterns each ran) and each pruned rung's time "
                        "ratio over its GMAC ratio against the dense rung at its batch/precision")
    p.add_argument("--profile", nargs="*", type=throughput.parse_rung, default=[],
                   help="rungs of the ladder to profile afterwards: one batch's operators by CPU time (the profiler "
                        "holds every event: a 1B batch of 8 needs over 20 GB)")
    p.set_defaults(run=run_throughput, output=Path("bench_throughput.json"), repeats=1, warmup=0)


def add_experiment(scopes: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = scopes.add_parser("experiment", parents=[common],
                          help="a trained model on a test set's real audio, per batch and precision")
    p.add_argument("--data_dir", type=Path, required=True, help="an OWSM dump dir (one language x task)")
    p.add_argument("--s2t_train_config", type=Path, required=True)
    p.add_argument("--s2t_model_file", type=Path, required=True)
    p.add_argument("--configs", type=parse_config, nargs="+", default=[(1, "fp32", "fp32"), (8, "fp32", "fp32")],
                   help="BATCH[:ENCODER:DECODER] precisions, e.g. 1 8 8:int8:int8 8:bf16:bf16; the first is the "
                        "baseline of the ratios and of the hypotheses")
    p.add_argument("--utts", type=int, default=16, help="the test set's first utterances (sorted)")
    p.add_argument("--beam_size", type=int, default=5)
    p.add_argument("--gates", default="predicted", help="predicted, on or a forced pattern (recipe.decode's)")
    p.set_defaults(run=run_experiment, output=Path("bench_experiment.json"), threads=1)


SCOPES: Dict[str, Callable] = {"encoder": add_encoder, "decode": add_decode, "throughput": add_throughput,
                               "experiment": add_experiment}


def get_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repeats", type=int, default=3, help="timed rounds (medians)")
    common.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    common.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    common.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    common.add_argument("--output", type=Path, help="the JSON written (default: bench_<scope>.json)")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    scopes = parser.add_subparsers(dest="scope", required=True, metavar="SCOPE")
    for add in SCOPES.values():
        add(scopes, common)
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    configure_logging()
    logging.getLogger("espnet").setLevel(logging.WARNING)
    if args.repeats < 1 or args.warmup < 0:
        raise SystemExit(f"--repeats must be >= 1 and --warmup >= 0, got {args.repeats} and {args.warmup}")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.run(args)
    logging.info(f"wrote {args.output}")


if __name__ == "__main__":
    main()
