"""GFLOPs of one utterance as ESPnet decodes it, under a given gate pattern (fvcore).

Counting convention (as the OWSM and dynamic-pruning papers): fvcore's
``FlopCountAnalysis``, 1 multiply-add = 1 flop. Counted: the encoder from its
conv2d subsampling on (the STFT/log-mel front end and the feature normalisation
are excluded: fvcore cannot count the STFT, and they are <1% of the encoder),
the gate predictors, and the decoder's beam search: per step one
``batch_score`` call over the running hypotheses (1 at the first step, which
runs the whole ``<sos><lang><task><notimestamps>`` prompt without a cache,
``beam_size`` afterwards) with the prefix length of that step. ESPnet's stock
decoder caches layer outputs only, so every step re-projects the encoder output
into source-attention keys and values for every hypothesis; the papers count
that. The dynprune decoder projects them once per utterance (first call), and
is counted as it runs. CTC is not counted (decoding uses ``ctc_weight`` 0).

Since a dynprune model really skips gated modules in eval mode, tracing it
under a forced pattern counts only what runs. The encoder runs on
``speech_seconds`` of silence (Speech2Text pads every input to the config's
``speech_length``, so pass that); a cached step's cost is exactly affine in the
prefix length, so two traced steps give every step's cost.

The CLI averages over up to ``--max_utts`` real utterances of a decode dir: each
with its own number of output tokens and its own gate decisions (from
``gates.jsonl``); identical patterns are traced once. ``gflops`` counts
``output tokens + 1`` beam steps (the papers' convention) as the model runs them,
``gflops_reprojected`` the same steps as a stock decoder runs them; ``gflops_as_run``
counts the decoder calls the decode stage recorded, since ESPnet's beam search
goes on past the best hypothesis' end until its end detection fires.
"""

from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from espnet_dynprune.analysis.macs import Call, count_macs
from espnet_dynprune.nets.context_vocabulary import ContextVocabulary
from espnet_dynprune.nets.layers.source_attention import project_source
from espnet_dynprune.owsm.datadir import context_of, read_map
from espnet_dynprune.owsm.symbols import NOTIME

PathLike = Union[str, Path]
#: None (as the model stands), "on"/"off"/sparsity for every part, or per part a spec or {gate: keep}.
Gates = Union[None, str, float, Mapping[str, Union[str, float, Mapping[str, bool]]]]


def _part_spec(part, spec):
    if isinstance(spec, Mapping):
        names = part.gate_names
        if set(spec) != set(names):
            raise ValueError(f"gate names {sorted(spec)} do not match the part's {list(names)}")
        return torch.tensor([bool(spec[n]) for n in names])
    return spec


@contextmanager
def forced(model: torch.nn.Module, gates: Gates) -> Iterator[None]:
    """Force ``gates`` inside, then restore each predictor's previous forcing."""
    parts = model.gated_parts() if hasattr(model, "gated_parts") else {}
    if not parts:
        if gates not in (None, "on"):
            raise ValueError(f"gates {gates!r} need a dynprune model, not {type(model).__name__}")
        yield
        return
    per_part = gates if isinstance(gates, Mapping) else {name: gates for name in parts}
    unknown = set(per_part) - set(parts)
    if unknown:
        raise ValueError(f"no gated part {sorted(unknown)}; gated parts: {sorted(parts)}")
    saved = {name: p.gate_predictor.forcing for name, p in parts.items()}
    try:
        for name, spec in per_part.items():
            if spec is not None:
                parts[name].force_gates(_part_spec(parts[name], spec))
        yield
    finally:
        for name, p in parts.items():
            p.gate_predictor.forcing = saved[name]


@dataclass(frozen=True)
class DecoderCost:
    """MACs of the beam search's decoder calls: the uncached first step, then affine steps."""

    first: float  # 1 hypothesis, the whole prompt
    second: float  # beam hypotheses, cache of the prompt, 1 new token
    per_token: float  # growth of a cached step per token of prefix
    reprojection: float = 0.0  # what a stock decoder adds per cached step (beam hypotheses) re-projecting K/V

    def total(self, output_tokens: int, reprojected: bool = False) -> float:
        """All ``output_tokens + 1`` steps (the last one emits ``<eos>``); ``reprojected``: as a stock
        decoder would run them, re-projecting the source K/V at every step."""
        cached = output_tokens
        extra = cached * self.reprojection if reprojected else 0.0
        return self.first + cached * self.second + self.per_token * cached * (cached - 1) / 2 + extra

    def of_calls(self, calls: Sequence[Sequence[int]], beam_size: int, prompt_length: int) -> float:
        """Recorded ``[hypotheses, prefix length, cached]`` calls (cost is linear in hypotheses)."""
        total = 0.0
        for hyps, prefix, cached in calls:
            if cached:
                total += (self.second + self.per_token * (prefix - prompt_length - 1)) * hyps / beam_size
            else:
                total += self.first * hyps
        return total


class FlopCounter:
    """Encoder and decoder cost of one model at one input length, memoised per gate pattern.

    Args:
        model: an ``ESPnetS2TModel`` (dynprune or stock) with a front end.
        speech_seconds: input length as the model runs it (Speech2Text: the config's speech_length).
        beam_size: beam search width.
        lang_sym, task_sym: prompt symbols (they only matter to predicted gates); default the
            first language and task of the token list.
    """

    def __init__(self, model: torch.nn.Module, speech_seconds: float, beam_size: int,
                 lang_sym: Optional[str] = None, task_sym: Optional[str] = None, sample_rate: int = 16000) -> None:
        if model.frontend is None:
            raise ValueError("FLOPs need a model with a front end (speech_seconds -> frames)")
        self.model = model.eval()
        self.beam_size = beam_size
        tokens = list(model.token_list)
        vocabulary = ContextVocabulary(tokens)
        if not (lang_sym or vocabulary.languages) or not (task_sym or vocabulary.tasks):
            raise ValueError("the token list has no <lang> or <task> symbols for the decoder prompt")
        self.lang_sym = lang_sym or vocabulary.languages[0]
        self.task_sym = task_sym or vocabulary.tasks[0]
        primer = [self.lang_sym, self.task_sym] + ([NOTIME] if NOTIME in tokens else [])
        self.primer = [model.sos] + [tokens.index(t) for t in primer]
        self.device = next(model.parameters()).device
        speech = torch.zeros(1, max(1, round(speech_seconds * sample_rate)), device=self.device)
        with torch.no_grad():
            feats, lengths = model.frontend(speech, torch.tensor([speech.size(1)], device=self.device))
            if model.normalize is not None:
                feats, lengths = model.normalize(feats, lengths)
        self.feats, self.feat_lengths = feats, lengths
        self._memo: Dict[str, tuple] = {}

    def _encoder_context(self):
        """The ``<lang><task>`` a dynprune encoder's gate predictor reads (model.encode sets it)."""
        if not hasattr(self.model.encoder, "context"):
            return nullcontext()
        lang, task = self.model.context_vocabulary.symbol_indices(self.lang_sym, self.task_sym)
        return self.model.encoder.context(torch.tensor([lang], device=self.device),
                                          torch.tensor([task], device=self.device))

    def _encoder(self) -> tuple[float, torch.Tensor]:
        """Encoder MACs and its output (the decoder's memory), conv2d subsampling included."""
        def run(feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            with self._encoder_context():
                out = self.model.encoder(feats, lengths)[0]
            return out[0] if isinstance(out, tuple) else out

        with torch.no_grad():
            memory = run(self.feats, self.feat_lengths)
        return count_macs(Call(self.model.encoder, run), (self.feats, self.feat_lengths)), memory

    def decoder_steps(self, memory: torch.Tensor, steps: int = 3) -> List[float]:
        """MACs of the first ``steps`` beam-search calls: prompt (1 hypothesis), then cached steps.

        Each call gets the real states of the previous one, so a decoder that keeps
        per-utterance work in its states (cached source keys/values) is counted as it runs.
        """
        decoder = self.model.decoder
        ys = torch.tensor(self.primer, device=self.device).unsqueeze(0)
        states: list = [None]
        costs = []
        for step in range(steps):
            xs = memory.expand(ys.size(0), -1, -1)

            def run(ys: torch.Tensor, xs: torch.Tensor, states=states) -> torch.Tensor:
                return decoder.batch_score(ys, states, xs)[0]

            costs.append(count_macs(Call(decoder, run), (ys, xs)))
            with torch.no_grad():
                states = decoder.batch_score(ys, states, xs)[1]
            if step == 0:  # the beam fills up from the one initial hypothesis
                states = [decoder.select_state(states, 0)] * self.beam_size
                ys = ys.expand(self.beam_size, -1)
            ys = torch.cat([ys, torch.full((ys.size(0), 1), self.model.eos, device=self.device)], dim=1)
        return costs

    def source_projection(self, memory: torch.Tensor) -> float:
        """MACs of projecting one utterance's encoder output into the source K/V of every source
        attention that runs: once per utterance for a decoder that caches them (``prepare_source``),
        0 for a stock one (whose steps already include it)."""
        decoder = self.model.decoder
        if not hasattr(decoder, "prepare_source"):
            return 0.0
        prompt = torch.tensor(self.primer, device=self.device).unsqueeze(0)
        with torch.no_grad():
            kept = [kv is not None for kv in decoder.prepare_source(memory, None, prompt).keys_values]
        total = 0.0
        for layer, run in zip(decoder.decoders, kept):
            if run:
                def project(memory: torch.Tensor, attn=layer.src_attn) -> tuple:
                    kv = project_source(attn, memory, None)
                    return kv.key, kv.value

                total += count_macs(Call(layer.src_attn, project), (memory,))
        return total

    def costs(self, gates: Gates = None) -> tuple[float, DecoderCost]:
        """(encoder MACs, decoder cost) under ``gates`` (memoised)."""
        key = json.dumps(gates, sort_keys=True)
        if key not in self._memo:
            with forced(self.model, gates):
                encoder, memory = self._encoder()
                first, second, third = self.decoder_steps(memory)
                reprojection = self.source_projection(memory) * self.beam_size
            self._memo[key] = (encoder, DecoderCost(first, second, third - second, reprojection))
        return self._memo[key]

    @property
    def patterns_traced(self) -> int:
        """How many distinct gate patterns were traced so far."""
        return len(self._memo)

    def utterance(self, output_tokens: int, gates: Gates = None,
                  decoder_calls: Optional[Sequence[Sequence[int]]] = None, reprojected: bool = False) -> Dict[str, float]:
        """GFLOPs (encoder, decoder, total) of an utterance with ``output_tokens`` tokens.

        The decoder runs ``output_tokens + 1`` steps (the papers' convention), or
        exactly the ``decoder_calls`` recorded by the decode stage when given;
        ``reprojected`` counts the steps as a stock decoder runs them (the papers').
        """
        encoder, decoder = self.costs(gates)
        if decoder_calls:
            dec = decoder.of_calls(decoder_calls, self.beam_size, len(self.primer))
        else:
            dec = decoder.total(output_tokens, reprojected)
        return {"encoder": encoder / 1e9, "decoder": dec / 1e9, "total": (encoder + dec) / 1e9}


def utterance_gflops(model: torch.nn.Module, speech_seconds: float, output_tokens: int, beam_size: int,
                     gates: Gates = None, **kwargs) -> Dict[str, float]:
    """GFLOPs of one utterance: ``dict(encoder=..., decoder=..., total=...)``.

    ``gates``: None (as the model stands: predicted, on silence), ``"on"``/``"off"``/a
    sparsity for every part, or per part (``"encoder"``/``"decoder"``) such a spec or a
    ``{gate name: keep}`` dict as in ``gates.jsonl``. ``kwargs`` go to ``FlopCounter``.
    """
    return FlopCounter(model, speech_seconds, beam_size, **kwargs).utterance(output_tokens, gates)


def output_token_count(tokens: str, where: str = "token") -> int:
    """Tokens generated after the ``<lang><task><notimestamps>`` prompt of a ``token`` line."""
    items = tokens.split()
    prompt = 0
    while prompt < min(3, len(items)) and items[prompt].startswith("<") and items[prompt] != "<eos>":
        prompt += 1
    if prompt < 2:
        raise ValueError(f"{where}: expected <lang> <task> first, got {tokens[:60]!r}")
    return len(items) - prompt


def evenly_spaced(keys: Sequence[str], count: int) -> List[str]:
    """Up to ``count`` keys spread over the whole (sorted) list, first and last included."""
    keys = sorted(keys, key=lambda k: k.encode("utf-8"))
    if len(keys) <= count:
        return keys
    step = (len(keys) - 1) / max(count - 1, 1)
    return [keys[round(i * step)] for i in range(count)]


def decode_dir_gflops(model: torch.nn.Module, decode_dir: PathLike, speech_seconds: float, beam_size: int,
                      max_utts: int = 20, lang_sym: Optional[str] = None, task_sym: Optional[str] = None) -> dict:
    """Mean GFLOPs over up to ``max_utts`` decoded utterances, each with its own tokens and gates."""
    decode_dir = Path(decode_dir)
    tokens = read_map(decode_dir / "token")
    with (decode_dir / "gates.jsonl").open(encoding="utf-8") as f:
        records = {r["utt"]: r for r in map(json.loads, f)}
    gates = {u: r["gates"] for u, r in records.items()}
    missing = sorted(set(tokens) - set(gates))
    if missing:
        raise ValueError(f"{decode_dir / 'gates.jsonl'} lacks {len(missing)} utterances of "
                         f"{decode_dir / 'token'} (first: {missing[:3]})")
    counter = FlopCounter(model, speech_seconds, beam_size, lang_sym, task_sym)
    utts = evenly_spaced(list(tokens), max_utts)
    per_utt, as_run, reprojected = [], [], []
    for utt in utts:
        n = output_token_count(tokens[utt], f"{decode_dir / 'token'}: {utt}")
        per_utt.append(counter.utterance(n, gates[utt] or None))
        reprojected.append(counter.utterance(n, gates[utt] or None, reprojected=True))
        calls = records[utt].get("decoder_calls")
        as_run.append(counter.utterance(n, gates[utt] or None, calls) if calls else None)

    def mean(values: List[Dict[str, float]]) -> Dict[str, float]:
        return {k: sum(u[k] for u in values) / len(values) for k in ("encoder", "decoder", "total")}

    return {
        "gflops": mean(per_utt),
        "gflops_reprojected": mean(reprojected),
        "gflops_as_run": mean(as_run) if all(as_run) else None,
        "num_utts_used": len(utts),
        "num_gate_patterns": counter.patterns_traced,
        "speech_seconds": speech_seconds,
        "beam_size": beam_size,
        "mean_output_tokens": sum(output_token_count(tokens[u]) for u in utts) / len(utts),
        "counting": "fvcore, 1 multiply-add = 1 flop; front end and CTC excluded; "
                    "gflops: output tokens + 1 steps of beam_size hypotheses, as this model's decoder runs them; "
                    "gflops_reprojected: the same steps with the source K/V re-projected at every step for every "
                    "hypothesis, as ESPnet's stock decoder runs them (the papers' convention; equal for a stock "
                    "model); gflops_as_run: the decoder calls the beam search really made (it runs on until end "
                    "detection)",
    }


def flops_of_decode(decode_dir: PathLike, data_dir: PathLike, s2t_train_config: Optional[PathLike] = None,
                    s2t_model_file: Optional[PathLike] = None, beam_size: Optional[int] = None,
                    max_utts: int = 20, output: Optional[PathLike] = None,
                    models: Optional[Dict[Tuple[str, str], tuple]] = None) -> dict:
    """The CLI: load the model, take the input length Speech2Text uses, count, write ``output``.

    Model files and beam size default to those the decode used (its ``decode_summary.json``).
    ``models`` caches loaded models by (config, model file) across calls: a recipe counts many
    test sets of one model, and each load costs seconds.
    """
    from espnet2.tasks.s2t import S2TTask

    summary_file = Path(decode_dir) / "decode_summary.json"
    if None in (s2t_train_config, s2t_model_file, beam_size):
        if not summary_file.is_file():
            raise FileNotFoundError(f"{summary_file} is missing: pass --s2t_train_config, --s2t_model_file "
                                    f"and --beam_size, or merge the decode first")
        settings = json.loads(summary_file.read_text(encoding="utf-8"))["settings"]
        s2t_train_config = s2t_train_config or settings["s2t_train_config"]
        s2t_model_file = s2t_model_file or settings["s2t_model_file"]
        beam_size = beam_size or settings["beam_size"]

    from espnet_dynprune.registration import register_s2t

    register_s2t()
    key = (str(s2t_train_config), str(s2t_model_file))
    models = {} if models is None else models
    if key not in models:
        models[key] = S2TTask.build_model_from_file(s2t_train_config, s2t_model_file, "cpu")
    model, train_args = models[key]
    pre = train_args.preprocessor_conf or {}
    if "speech_length" not in pre:
        raise ValueError(f"{s2t_train_config}: preprocessor_conf has no speech_length (Speech2Text pads to it)")
    lang_sym, task_sym = context_of(data_dir)
    result = decode_dir_gflops(model, decode_dir, float(pre["speech_length"]), beam_size, max_utts,
                               lang_sym, task_sym)
    result["s2t_model_file"] = str(s2t_model_file)
    if output is not None:
        Path(output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
