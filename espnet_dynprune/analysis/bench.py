"""Wall-clock benchmark of OWSM v3.1 decoding: stock ESPnet vs dynprune, side by side.

One run measures every configuration in round-robin order (warm-ups first, then
``repeats`` rounds), so drifts of the machine hit all of them alike; ratios are
taken between medians of the same run. An utterance is what ESPnet's
Speech2Text runs: ``speech_seconds`` of audio (OWSM pads to 30 s), the encoder,
then a beam-5 search of exactly ``steps`` steps (the ``<eos>`` logit is pushed
down so no hypothesis ends early; random weights cannot know when to stop).
GMAC are fvcore counts of the gate pattern each configuration actually ran. ``static s``
configurations run the same model statically pruned at ``s`` (encoder and decoder each; masks
preset at random, not trained: shapes and speed, not accuracy), all gates on.
On a GPU (``device="cuda"``) each timed part ends with a device synchronisation.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from copy import deepcopy
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch

from espnet_dynprune.analysis.clock import now, round_robin
from espnet_dynprune.analysis.flops import FlopCounter, forced
from espnet_dynprune.analysis.owsm_architecture import owsm_pair, owsm_static
from espnet_dynprune.inference.batch_beam_search import batch_beam_search
from espnet_dynprune.inference.batched_decoding import encode_in_chunks
from espnet_dynprune.inference.precision import parse_precisions, set_precision
from espnet_dynprune.nets.espnet_compat import SEARCHES_SEVERAL_UTTERANCES, BatchBeamSearch

PARTS = ("encoder", "decoder", "both")
SPARSITIES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
MIXED_CONTEXTS = (("<fra>", "<asr>"), ("<deu>", "<st_eng>"), ("<ita>", "<asr>"), ("<hun>", "<st_eng>"),
                  ("<bul>", "<asr>"), ("<fra>", "<st_eng>"), ("<deu>", "<asr>"), ("<ita>", "<st_eng>"))


FP32 = "fp32:fp32"


@dataclass(frozen=True)
class Config:
    name: str
    model: str  # "stock", "dynprune" or "static <s>"
    gates: Optional[Dict[str, object]]  # per part: "on" or a forced sparsity; None: as built
    precision: str = FP32  # "<encoder>:<decoder>" (inference.precision); GMAC are counted at fp32

    @property
    def key(self) -> str:
        """The model it runs: ``model``, or its copy at ``precision``."""
        return self.model if self.precision == FP32 else f"{self.model} {self.precision}"


def push_eos_down(model: torch.nn.Module) -> None:
    """Make ``<eos>`` (almost) never the best token: every search then runs its full length."""
    with torch.no_grad():
        model.decoder.output_layer.bias[model.eos] -= 1e4


def fixed_length_search(model: torch.nn.Module, beam_size: int) -> BatchBeamSearch:
    """ESPnet's batched beam search over ``model``'s decoder alone (no CTC, no LM)."""
    return BatchBeamSearch(
        scorers={"decoder": model.decoder}, weights={"decoder": 1.0}, beam_size=beam_size,
        vocab_size=len(model.token_list), sos=model.sos, eos=model.eos, token_list=None,
        pre_beam_score_key="full",
    ).eval()


def prompt(ids: Dict[str, int], lang: str, task: str) -> List[int]:
    """``<sos> <lang> <task> <notimestamps>`` as token ids (``ids``: token -> id)."""
    return [ids["<sos>"], ids[lang], ids[task], ids["<notimestamps>"]]


def static_name(sparsity: float) -> str:
    return f"static {sparsity:.1f}"


def configurations(parts: Sequence[str], sparsities: Sequence[float],
                   static_sparsities: Sequence[float] = (), precisions: Sequence[str] = ()) -> List[Config]:
    """Stock ESPnet, dynprune dense, then each part at each forced sparsity, then each static model,
    then the dynprune ones at each ``encoder:decoder`` precision."""
    dense = {"encoder": "on", "decoder": "on"}
    configs = [Config("stock ESPnet", "stock", None), Config("dynprune dense", "dynprune", dense)]
    for part in parts:
        for s in sparsities:
            gates = {p: (s if part in (p, "both") else "on") for p in ("encoder", "decoder")}
            configs.append(Config(f"{part} {s:.1f}", "dynprune", gates))
    configs += [Config(static_name(s), static_name(s), dense) for s in static_sparsities]
    for precision in precisions:  # the dynprune configurations again, at each reduced precision
        configs += [Config(f"{c.name} {precision}", "dynprune", c.gates, precision)
                    for c in configs if c.model == "dynprune" and c.precision == FP32]
    return configs


class Bench:
    """One OWSM size: the shared-weight stock and dynprune models and their inputs."""

    def __init__(self, size: str, speech_seconds: float, steps: int, beam_size: int, seed: int = 0,
                 device: str = "cpu", static_sparsities: Sequence[float] = (), precisions: Sequence[str] = (),
                 utterances: int = len(MIXED_CONTEXTS)) -> None:
        self.size, self.steps, self.beam_size = size, steps, beam_size
        self.speech_seconds = speech_seconds
        self.device = torch.device(device)
        stock, dyn = (m.to(self.device) for m in owsm_pair(size, seed))
        tokens = list(stock.token_list)
        push_eos_down(stock)  # the same push in both models: fixed-length searches
        push_eos_down(dyn)
        self.models = {"stock": stock, "dynprune": dyn}
        for s in static_sparsities:  # built from dyn after the push: the same output layer
            self.models[static_name(s)] = owsm_static(size, dyn, s, seed)
        for precision in precisions:  # copies of the dynprune model, each part converted
            copy = deepcopy(dyn)
            for part, value in zip(("encoder", "decoder"), parse_precisions(precision), strict=True):
                set_precision(getattr(copy, part), part, value)
            self.models[f"dynprune {precision}"] = copy
        self.ids = {t: i for i, t in enumerate(tokens)}
        generator = torch.Generator().manual_seed(seed)
        samples = round(speech_seconds * 16000)
        self.speech = 0.1 * torch.randn(utterances, samples, generator=generator).to(self.device)
        self.searches = {name: fixed_length_search(m, beam_size) for name, m in self.models.items()}
        self.counters: Dict[str, FlopCounter] = {}

    @staticmethod
    def context(index: int) -> tuple[str, str]:
        """(language, task) of utterance ``index``: the mixed contexts in turn."""
        return MIXED_CONTEXTS[index % len(MIXED_CONTEXTS)]

    def _encode(self, model, speech: torch.Tensor, contexts) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder output and lengths of a batch; a dynprune encoder reads each row's language and task."""
        lengths = torch.full((speech.size(0),), speech.size(1), device=speech.device)
        context = nullcontext()
        if hasattr(model.encoder, "context"):
            idx = torch.tensor([model.context_vocabulary.symbol_indices(l, t) for l, t in contexts],
                               device=speech.device)
            context = model.encoder.context(idx[:, 0], idx[:, 1])
        with context:
            return model.encode(speech, lengths)

    def run(self, config: Config, index: int = 0, steps: Optional[int] = None) -> tuple[float, float, List[int]]:
        """(encoder s, decoder s, best hypothesis) of utterance ``index`` under ``config`` (``steps``:
        another search length than the bench's); :meth:`pattern` then reads the gate pattern it ran."""
        model, search = self.models[config.key], self.searches[config.key]
        lang, task = self.context(index)
        search.set_hyp_primer(prompt(self.ids, lang, task))
        with forced(model, config.gates), torch.inference_mode():
            start = now(self.device)
            enc = self._encode(model, self.speech[index:index + 1], [(lang, task)])[0]
            middle = now(self.device)
            hyps = search(enc[0], maxlenratio=-float(steps or self.steps), minlenratio=0.0)
            end = now(self.device)
        return middle - start, end - middle, hyps[0].yseq.tolist()

    def run_batch(self, rows: Sequence[int], gates, key: str = "dynprune", steps: Optional[int] = None,
                  encoder_batch: Optional[int] = None) -> tuple[float, float, List[List[int]]]:
        """(encoder s, decoder s, best hypothesis per row) of utterances ``rows`` decoded together
        by the dynprune model ``key`` (``steps``: another search length than the bench's), encoded
        ``encoder_batch`` at a time (None: all at once)."""
        model = self.models[key]
        contexts = [self.context(i) for i in rows]
        prompts = torch.tensor([prompt(self.ids, l, t) for l, t in contexts], device=self.device)
        with forced(model, gates), torch.inference_mode():
            start = now(self.device)
            speech = self.speech[list(rows)]
            enc, _ = encode_in_chunks(model, lambda part: self._encode(model, speech[part], contexts[part]),
                                      len(rows), encoder_batch)
            middle = now(self.device)
            found = batch_beam_search(model.decoder, enc, None, prompts, self.beam_size, model.eos,
                                      maxlenratio=-float(steps or self.steps))
            end = now(self.device)
        return middle - start, end - middle, [h[0].yseq.tolist() for h in found]

    def run_stock_batch(self, rows: Sequence[int], steps: Optional[int] = None) -> tuple[float, float, List[List[int]]]:
        """(encoder s, decoder s, best hypothesis per row) of utterances ``rows`` decoded together by
        stock ESPnet as its ``Speech2Text(batch_size=N).batch_decode`` decodes them: one encoder call,
        then one ``BatchBeamSearch`` over every utterance (ESPnet 202611 and later)."""
        if not SEARCHES_SEVERAL_UTTERANCES:
            raise ValueError("this ESPnet's BatchBeamSearch decodes one utterance at a time (batched from 202611 on)")
        model, search = self.models["stock"], self.searches["stock"]
        contexts = [self.context(i) for i in rows]
        search.set_hyp_primer([prompt(self.ids, lang, task) for lang, task in contexts])
        with torch.inference_mode():
            start = now(self.device)
            enc, lengths = self._encode(model, self.speech[list(rows)], contexts)
            middle = now(self.device)
            found = search(enc, maxlenratio=-float(steps or self.steps), minlenratio=0.0, x_lengths=lengths)
            end = now(self.device)
        return middle - start, end - middle, [hyps[0].yseq.tolist() for hyps in found]

    def pattern(self, config: Config) -> Optional[Dict[str, Dict[str, bool]]]:
        """The gate pattern of the utterance ``config`` last ran (None: a stock model runs all)."""
        return self.patterns(config, 1)[0]

    def patterns(self, config: Config, rows: int) -> List[Optional[Dict[str, Dict[str, bool]]]]:
        """The gate pattern of each of the ``rows`` utterances of the batch ``config``'s model last ran."""
        if config.model == "stock":
            return [None] * rows
        parts = [(name, part.last_gates.as_dict()) for name, part in self.models[config.key].gated_parts().items()]
        return [{name: {g: keep[i] for g, keep in gates.items()} for name, gates in parts} for i in range(rows)]

    def gmac(self, config: Config, gates: Optional[Dict[str, Dict[str, bool]]]) -> Dict[str, float]:
        """fvcore GMAC of ``config`` running the pattern ``gates`` (utterance 0); each pattern traced once."""
        if config.model not in self.counters:
            lang, task = self.context(0)
            self.counters[config.model] = FlopCounter(self.models[config.model], self.speech_seconds,
                                                      self.beam_size, lang_sym=lang, task_sym=task)
        return self.counters[config.model].utterance(self.steps - 1, gates)


def measure(bench: Bench, configs: Sequence[Config], repeats: int, warmup: int,
            log: Callable[[str], None] = logging.info,
            save: Optional[Callable[[dict], None]] = None) -> Dict[str, Dict[str, float]]:
    """Median times (round-robin over ``configs``) and GMAC of every configuration.

    ``save`` gets the timings before the (slow, for 1B) GMAC counts start.
    """
    hyps: Dict[str, List[int]] = {}
    patterns: Dict[str, Optional[Dict[str, Dict[str, bool]]]] = {}
    by_name = {c.name: c for c in configs}

    def run(name: str) -> Dict[str, float]:
        enc, dec, hyps[name] = bench.run(by_name[name])
        patterns[name] = bench.pattern(by_name[name])
        return {"encoder": enc, "decoder": dec}

    timed = round_robin(list(by_name), run, repeats, warmup, log=lambda m: log(f"{bench.size}: {m}"))
    results = {c.name: {**timed[c.name].summary(), "precision": c.precision} for c in configs}
    results["stock ESPnet"]["same_hypothesis_as_dense"] = hyps["stock ESPnet"] == hyps["dynprune dense"]
    if save:
        save(results)
    for c in configs:
        results[c.name].update({f"gmac_{k}": v for k, v in bench.gmac(c, patterns[c.name]).items()})
    return results


def measure_mixed_batch(bench: Bench, sparsity: float, repeats: int, warmup: int) -> Dict[str, float]:
    """Batch of 8 utterances with different languages/tasks at a forced sparsity (both parts).

    Each row keeps its own pattern (the predictor ranks the modules per utterance).
    The per-utterance ideal is the same 8 utterances decoded one at a time, each
    with its own pattern and no batching effects: throughput ratio = t_alone / t_batch.
    """
    rows = list(range(len(MIXED_CONTEXTS)))
    gates = {"encoder": sparsity, "decoder": sparsity}
    parts = bench.models["dynprune"].gated_parts().values()
    patterns: set = set()

    def run(together: bool) -> Dict[str, float]:
        if together:
            enc, dec, _ = bench.run_batch(rows, gates)
            # each row's (encoder, decoder) pattern
            patterns.update(tuple(torch.cat([p.last_gates.keep[i] for p in parts]).tolist()) for i in rows)
            return {"encoder": enc, "decoder": dec}
        single = [bench.run_batch([i], gates)[:2] for i in rows]
        return {"encoder": sum(e for e, _ in single), "decoder": sum(d for _, d in single)}

    timed = round_robin([True, False], run, repeats, warmup)
    batch, alone = timed[True], timed[False]
    b, a = batch.summary(), alone.summary()
    return {"sparsity": sparsity, "batch_s": b["total_s"], "batch_spread": b["spread"],
            "alone_s": a["total_s"], "alone_spread": a["spread"],
            "distinct_patterns": len(patterns), "throughput_ratio": a["total_s"] / b["total_s"]}
