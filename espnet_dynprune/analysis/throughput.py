"""End-to-end decoding throughput: stock ESPnet, one utterance at a time and (ESPnet 202611) several
in one search, against this project's components added one by one (cached source K/V, batching,
pruning, reduced precision).

Each rung of the ladder is ``MODEL:BATCH[/ENCODER_BATCH][:ENCODER:DECODER]``: ``stock`` (ESPnet's
own decoder and ``BatchBeamSearch``; ``stock:8`` is what ESPnet 202611's ``Speech2Text(batch_size=8)``
runs, 8 utterances in one search), ``dense (the dynprune model with every gate on: cached
source K/V), a sparsity such as ``0.5`` (both parts pruned to it, each utterance its own
pattern) or one per part, ``ENC,DEC`` (each a sparsity or ``on``: ``0.9,on`` prunes the encoder
alone), decoded ``BATCH`` utterances at a time (1: ESPnet's ``BatchBeamSearch``; more:
``inference.batch_beam_search``, or ESPnet's own for ``stock``), encoded ``ENCODER_BATCH`` at a time (default: the whole batch), each
part at its precision (``inference.precision``). Every rung decodes the same utterances (mixed
languages and tasks, 30 s each, beam 5, a fixed number of steps), round-robin in one process, so
the ratios to the first rung (and to ``stock:8``, ESPnet's fastest setting, when it is on the
ladder) are measured side by side. A rung's hypotheses are compared with the
first rung's: cached K/V and batching must not change any. Peak memory (weights + the working
memory of one batch) is measured in a pass of its own, after the timed rounds, under the
allocation tracking of :mod:`espnet_dynprune.analysis.peak_memory`. With GMAC counted (fvcore, the
patterns each utterance ran), a pruned rung's time ratio over its GMAC ratio against the dense rung
of the same batch and precision says how much of the pruned work the clock saw saved.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import torch

from espnet_dynprune.analysis.bench import Bench, Config
from espnet_dynprune.analysis.clock import round_robin
from espnet_dynprune.analysis.peak_memory import peak_working_bytes, weight_bytes
from espnet_dynprune.inference.precision import config_name, parse_config
from espnet_dynprune.nets.espnet_compat import SEARCHES_SEVERAL_UTTERANCES

LADDER = ("stock:1",) + (("stock:8",) if SEARCHES_SEVERAL_UTTERANCES else ()) + (
    "dense:1", "dense:8", "dense:8/1", "0.5:8/1", "0.5:8/1:bf16:fp32", "0.5:8/1:bf16:int8")
#: The rung of stock ESPnet's fastest setting, a second baseline of every ratio when on the ladder.
STOCK_BATCHED = "stock:8:fp32:fp32"
#: Steps of the untimed warm-up decode of each rung's first batch (first-call costs, allocator).
WARMUP_STEPS = 2


@dataclass(frozen=True)
class Rung:
    spec: str
    model: str  # "stock", "dense", a sparsity of both parts such as "0.5", or "ENC,DEC" ("0.9,on")
    batch: int
    encoder_batch: Optional[int]  # None: the whole batch in one encoder call
    encoder_precision: str
    decoder_precision: str

    @property
    def precision(self) -> str:
        return f"{self.encoder_precision}:{self.decoder_precision}"

    @property
    def gates(self) -> Optional[Dict[str, object]]:
        """What ``analysis.flops.forced`` imposes on the dynprune model (None: stock)."""
        if self.model == "stock":
            return None
        if self.model == "dense":
            return {"encoder": "on", "decoder": "on"}
        values = self.model.split(",") if "," in self.model else [self.model] * 2
        return {part: v if v == "on" else float(v) for part, v in zip(("encoder", "decoder"), values, strict=True)}

    @property
    def config(self) -> Config:
        """The bench configuration it runs one utterance at a time with."""
        return Config(self.spec, "stock" if self.model == "stock" else "dynprune", self.gates, self.precision)

    @property
    def key(self) -> str:
        """The bench model it runs (``stock``, ``dynprune`` or the dynprune copy at its precision)."""
        return self.config.key


def parse_rung(spec: str) -> Rung:
    """``"0.5:8/1:bf16:int8"`` -> a :class:`Rung`; ValueError naming ``spec`` when it is not one."""
    model, _, rest = spec.partition(":")
    batches, _, precisions = (rest or "1").partition(":")
    batch_text, _, encoder_text = batches.partition("/")
    try:
        batch, enc, dec = parse_config(f"{batch_text}:{precisions}" if precisions else batch_text)
        encoder_batch = int(encoder_text) if encoder_text else None
        if model not in ("stock", "dense"):
            _check_sparsities(model)
        if encoder_batch is not None and not 1 <= encoder_batch <= batch:
            raise ValueError(encoder_text)
    except ValueError:
        raise ValueError(f"rung {spec!r} is not MODEL:BATCH[/ENCODER_BATCH][:ENCODER:DECODER] (MODEL: stock, "
                         f"dense, a sparsity in [0, 1) or ENC,DEC each one or 'on'; 1 <= ENCODER_BATCH <= BATCH)"
                         ) from None
    if encoder_batch is not None and encoder_batch == batch:
        encoder_batch = None
    name = config_name((f"{batch}/{encoder_batch}" if encoder_batch else batch, enc, dec))
    if model == "stock" and ((enc, dec) != ("fp32", "fp32") or encoder_batch is not None):
        raise ValueError(f"rung {spec!r}: stock ESPnet decodes in fp32, its whole batch in one encoder call")
    if model == "stock" and batch > 1 and not SEARCHES_SEVERAL_UTTERANCES:
        raise ValueError(f"rung {spec!r}: this ESPnet's stock search decodes one utterance at a time "
                         f"(several at once from ESPnet 202611 on)")
    return Rung(f"{model}:{name}", model, batch, encoder_batch, enc, dec)


def _check_sparsities(model: str) -> None:
    """ValueError unless ``model`` is a sparsity in [0, 1) or ``ENC,DEC``, each such a sparsity or ``on``."""
    values = model.split(",")
    if len(values) > 2 or (len(values) == 1 and values[0] == "on"):
        raise ValueError(model)
    for v in values:
        if v != "on" and not 0.0 <= float(v) < 1.0:
            raise ValueError(model)


def precisions_needed(rungs: Sequence[Rung]) -> List[str]:
    """The reduced precisions the bench must build a model copy for."""
    return sorted({r.precision for r in rungs if r.model != "stock" and r.precision != "fp32:fp32"})


@dataclass
class Decoded:
    """What decoding utterances under a rung gave: seconds, each best hypothesis and gate pattern."""

    encoder_s: float = 0.0
    decoder_s: float = 0.0
    hyps: List[List[int]] = field(default_factory=list)
    patterns: List[Optional[dict]] = field(default_factory=list)  # None: a stock model runs everything


def decode_all(bench: Bench, rung: Rung, rows: Sequence[int], steps: Optional[int] = None) -> Decoded:
    """Utterances ``rows`` decoded under ``rung``, ``rung.batch`` at a time."""
    out = Decoded()
    rows = list(rows)
    for start in range(0, len(rows), rung.batch):
        chunk = rows[start:start + rung.batch]
        if rung.batch == 1:  # ESPnet's BatchBeamSearch, the bench's fixed length
            enc, dec, hyp = bench.run(rung.config, chunk[0], steps)
            found = [hyp]
        elif rung.model == "stock":
            enc, dec, found = bench.run_stock_batch(chunk, steps)
        else:
            enc, dec, found = bench.run_batch(chunk, rung.gates, rung.key, steps, rung.encoder_batch)
        out.encoder_s, out.decoder_s = out.encoder_s + enc, out.decoder_s + dec
        out.hyps += found
        out.patterns += bench.patterns(rung.config, len(chunk))
    return out


def measure(bench: Bench, rungs: Sequence[Rung], utterances: int, repeats: int, memory: bool = True,
            gmac: bool = False, warmup: int = 0, log: Callable[[str], None] = logging.info) -> Dict[str, dict]:
    """Per rung (after each rung's first batch for a few steps and ``warmup`` untimed rounds): median
    seconds for ``utterances``, utterances/s, ratio to the first rung, how many hypotheses equal the
    first rung's, (``memory``) weights and peak working memory, and
    (``gmac``) fvcore GMAC per utterance with the time/GMAC ratio of :func:`time_per_gmac`."""
    rows = list(range(utterances))
    for rung in rungs:  # warm-up: each rung's first batch, a few steps
        decode_all(bench, rung, rows[:rung.batch], WARMUP_STEPS)
    by_spec = {r.spec: r for r in rungs}
    last: Dict[str, Decoded] = {}

    def run(spec: str) -> Dict[str, float]:
        last[spec] = decoded = decode_all(bench, by_spec[spec], rows)
        log(f"{bench.size}: {spec}: {decoded.encoder_s + decoded.decoder_s:.2f} s")
        return {"encoder": decoded.encoder_s, "decoder": decoded.decoder_s}

    timed = round_robin(list(by_spec), run, repeats, warmup=warmup, log=lambda m: log(f"{bench.size}: {m}"))
    first = rungs[0].spec
    results: Dict[str, dict] = {}
    for spec, phases in timed.items():
        summary = phases.summary()
        same = sum(a == b for a, b in zip(last[spec].hyps, last[first].hyps, strict=True))
        results[spec] = {"encoder_s": summary["encoder_s"], "decoder_s": summary["decoder_s"],
                         "total_s": summary["total_s"], "utts_per_s": utterances / summary["total_s"],
                         "same_hypotheses_as_first": same, "utterances": utterances}
    base = results[first]["total_s"]
    batched = results.get(STOCK_BATCHED, {}).get("total_s")
    for r in results.values():
        r["speedup"] = base / r["total_s"]
        if batched is not None:
            r["speedup_vs_stock_batched"] = batched / r["total_s"]
    if gmac:
        for rung in rungs:
            counts = [bench.gmac(rung.config, p) for p in last[rung.spec].patterns]
            results[rung.spec].update({f"gmac_{k}": statistics.mean(c[k] for c in counts) for k in counts[0]})
            log(f"{bench.size}: GMAC of {rung.spec}: {results[rung.spec]['gmac_total']:.1f} per utterance")
        for rung in rungs:
            ratio = time_per_gmac(rung, rungs, results)
            if ratio is not None:
                results[rung.spec]["time_per_gmac_vs_dense"] = ratio
    if memory:
        for rung in rungs:
            _, peak = peak_working_bytes(lambda rung=rung: decode_all(bench, rung, rows[:rung.batch]), bench.device)
            results[rung.spec].update(weights_mb=weight_bytes(bench.models[rung.key]) / 2**20,
                                      peak_working_mb=peak / 2**20)
            log(f"{bench.size}: memory of {rung.spec}: {peak / 2**20:.0f} MB working")
    return results


def time_per_gmac(rung: Rung, rungs: Sequence[Rung], results: Dict[str, dict]) -> Optional[float]:
    """``rung``'s time ratio over its GMAC ratio against the dense rung decoding as it does (same
    batch, encoder batch and precision): 1.0 when the clock saves what pruning removes; None for
    stock, dense, or without such a dense rung on the ladder."""
    if rung.model in ("stock", "dense"):
        return None
    dense = [r for r in rungs if r.model == "dense" and (r.batch, r.encoder_batch, r.precision)
             == (rung.batch, rung.encoder_batch, rung.precision)]
    if not dense:
        return None
    mine, theirs = results[rung.spec], results[dense[0].spec]
    return (mine["total_s"] / theirs["total_s"]) / (mine["gmac_total"] / theirs["gmac_total"])


def profile(bench: Bench, rung: Rung, top: int = 8) -> List[dict]:
    """Where one batch of ``rung`` spends its time: torch's profiler, the ``top`` operators by their
    own CPU time, grouped by input shapes (the vocabulary projection is the ``addmm`` whose weight
    has 50002 rows), each with its share of the total."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        decode_all(bench, rung, range(rung.batch))
    averages = prof.key_averages(group_by_input_shape=True)
    total = sum(a.self_cpu_time_total for a in averages)
    ranked = sorted(averages, key=lambda a: a.self_cpu_time_total, reverse=True)[:top]
    return [{"op": a.key, "shapes": str(a.input_shapes), "calls": a.count, "self_s": a.self_cpu_time_total / 1e6,
             "share": a.self_cpu_time_total / total} for a in ranked]


def markdown(size: str, results: Dict[str, dict]) -> str:
    """The ladder as a markdown table (GMAC columns when they were counted)."""
    first = next(iter(results))
    n = results[first]["utterances"]
    counted = "gmac_total" in results[first]
    extra = " GMAC / utterance | time ratio / GMAC ratio vs dense |" if counted else ""
    batched = "speedup_vs_stock_batched" in results[first]
    second = f" vs {STOCK_BATCHED} |" if batched else ""
    lines = [f"### OWSM v3.1 {size}: {n} utterances",
             f"| MODEL:BATCH:ENCODER:DECODER | encoder s | decoder s | total s | utterances/s | vs {first} |{second}"
             f" hypotheses = {first} | weights MB | peak working MB | peak total MB |{extra}",
             "|---|---|---|---|---|---|---|---|---|---|" + "---|" * (2 * counted + batched)]
    for spec, r in results.items():
        memory = (f"{r['weights_mb']:.0f} | {r['peak_working_mb']:.0f} | {r['weights_mb'] + r['peak_working_mb']:.0f}"
                  if "weights_mb" in r else "- | - | -")
        gmac = ""
        if counted:
            ratio = r.get("time_per_gmac_vs_dense")
            gmac = f" {r['gmac_total']:.1f} | {'-' if ratio is None else f'{ratio:.3f}'} |"
        vs_batched = f" {r['speedup_vs_stock_batched']:.2f}x |" if batched else ""
        lines.append(f"| {spec} | {r['encoder_s']:.2f} | {r['decoder_s']:.2f} | {r['total_s']:.2f} "
                     f"| {r['utts_per_s']:.3f} | {r['speedup']:.2f}x |{vs_batched} {r['same_hypotheses_as_first']} of {n} "
                     f"| {memory} |{gmac}")
    for spec, r in results.items():
        if "profile" in r:
            lines += ["", f"Where {spec} spends one batch (torch profiler, own CPU time):", "",
                      "| operator | input shapes | calls | s | share |", "|---|---|---|---|---|"]
            lines += [f"| {p['op']} | {p['shapes']} | {p['calls']} | {p['self_s']:.3f} | {p['share']:.0%} |"
                      for p in r["profile"]]
    return "\n".join(lines)
