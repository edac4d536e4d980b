"""Several utterances decoded at once through ESPnet's ``Speech2Text``, with ESPnet's results.

Why: ``Speech2Text.__call__`` decodes one utterance: one encoder call and, per step, one decoder
call over that utterance's beam. Here B utterances share both: one encoder call over B rows, or
over chunks of them (OWSM pads or cuts every input to the same window, so no row is padding),
and one decoder call per step
over B x beam rows (:func:`~espnet_dynprune.inference.batch_beam_search.batch_beam_search`, source K/V
projected once, each row with its own gate pattern). The hypotheses then go through
``Speech2Text``'s own post-processing, so each n-best list is what ``__call__`` returns.

The search reproduces ESPnet's when the decoder is its only scorer: no CTC, language model or
length bonus, and no timestamps (ESPnet's ``ScoreFilter`` then only bars the time symbols, as
:func:`time_symbol_bias` does). Anything else is refused, naming the option. A stock model
(ESPnet's ``transformer`` decoder) or a statically pruned one (``transformer_pruned``) is decoded
through a dynprune decoder without gates that holds the same weights: the same output, with the
cached source K/V.
"""

from __future__ import annotations

import contextlib
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.gating.decision import GateDecision
from espnet_dynprune.inference.batch_beam_search import batch_beam_search
from espnet_dynprune.nets.checkpoint import added_by_pruning
from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.decoder.transformer_pruned import TransformerPrunedDecoder
from espnet_dynprune.nets.espnet_compat import Hypothesis

#: Beam-search scorers the batched search reproduces (the decoder, and ScoreFilter's bar on time symbols).
REPRODUCED_SCORERS = ("decoder", "scorefilter")


def why_not_batchable(s2t, text_prev: Optional[object] = None, predict_time: Optional[bool] = None) -> Optional[str]:
    """Why the batched search would not give ``s2t``'s results, naming the option; None when it would."""
    search = s2t.beam_search
    extra = sorted(set(search.full_scorers) - set(REPRODUCED_SCORERS)) + sorted(search.part_scorers)
    if extra:
        return (f"batched decoding runs the decoder alone, but the beam search also scores with {extra} "
                f"(ctc_weight / lm_weight / ngram_weight / penalty not 0)")
    if s2t.partial_ar or (s2t.predict_time if predict_time is None else predict_time):
        return "batched decoding does not run partially autoregressive decoding or timestamps (partial_ar / predict_time)"
    if text_prev is not None:
        return "batched decoding does not take a previous text (text_prev)"
    return None


def time_symbol_bias(s2t, vocab_size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(V,) 0, or -inf on the time symbols: ESPnet's ``ScoreFilter`` for a ``<notimestamps>`` prompt."""
    bias = torch.zeros(vocab_size, dtype=dtype, device=device)
    if "scorefilter" in s2t.beam_search.full_scorers:
        first, last = (s2t.converter.token2id[s2t.preprocessor_conf[k]]
                       for k in ("first_time_symbol", "last_time_symbol"))
        bias[first:last + 1] = float("-inf")
    return bias


def dynprune_decoder(s2t) -> TransformerDynPruneDecoder:
    """The model's dynprune decoder; for ESPnet's ``transformer`` decoder (or the statically pruned
    ``transformer_pruned``, whose ``layer_sizes`` it takes), an ungated dynprune twin with its
    weights (built once per ``s2t``)."""
    decoder = s2t.s2t_model.decoder
    if isinstance(decoder, TransformerDynPruneDecoder):
        return decoder
    twin = getattr(s2t, "_dynprune_twin", None)
    if twin is not None:
        return twin
    if type(decoder) not in (TransformerDecoder, TransformerPrunedDecoder):
        raise ValueError(f"batched decoding needs a transformer decoder, this model has {type(decoder).__name__}: "
                         f"use batch_size 1")
    param = next(decoder.parameters())
    twin = TransformerDynPruneDecoder(len(s2t.s2t_model.token_list), s2t.s2t_model.encoder.output_size(),
                                      gate_predictor="none", **s2t.s2t_train_args.decoder_conf)
    # the same tensors, no second copy; without what pruning adds to a stock decoder (a magnitude
    # baseline's masks: its zeros are in the weights already)
    state = {k: v for k, v in decoder.state_dict().items() if not added_by_pruning(k)}
    twin.load_state_dict(state, strict=True, assign=True)
    s2t._dynprune_twin = twin.to(device=param.device, dtype=param.dtype).eval()
    return s2t._dynprune_twin


def prompt_ids(s2t, lang_sym: str, task_sym: str) -> List[int]:
    """``<sos><lang><task><notimestamps>``, the hypothesis primer ``Speech2Text.__call__`` sets."""
    token2id = s2t.converter.token2id
    return [s2t.s2t_model.sos, token2id[lang_sym], token2id[task_sym], token2id[s2t.preprocessor_conf["notime_symbol"]]]


def fixed_window(speeches: Sequence[torch.Tensor], samples: int) -> torch.Tensor:
    """(B, samples): each waveform cut or zero-padded to the model's window, as ``__call__`` does."""
    return torch.stack([torch.nn.functional.pad(s[:samples], (0, max(0, samples - s.numel()))) for s in speeches])


def encode_in_chunks(model, encode: Callable[[slice], Tuple[torch.Tensor, torch.Tensor]], batch: int,
                     chunk: Optional[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """``encode(rows)`` (encoder output and lengths of those rows) over ``chunk`` rows at a time
    (None: all at once), concatenated, without intermediate CTC outputs (not decoded here); the
    encoder's last gate decision and margins then cover every row, as one call's would. Why: on a
    CPU the encoder activations of one 30 s utterance already outgrow the caches, and B utterances
    at once ran slower than B one by one (OWSM base, 8 utterances: 1.54x; ``bench throughput``),
    while the decoder's small per-step products gain from batching."""
    if chunk is None or chunk >= batch:
        memory, memory_lengths = encode(slice(0, batch))
        return (memory[0] if isinstance(memory, tuple) else memory), memory_lengths
    predictor = getattr(model.encoder, "gate_predictor", None)
    outputs, lengths, decisions, margins = [], [], [], []
    for start in range(0, batch, chunk):
        memory, memory_lengths = encode(slice(start, start + chunk))
        outputs.append(memory[0] if isinstance(memory, tuple) else memory)
        lengths.append(memory_lengths)
        if predictor is not None:
            decisions.append(predictor.last_decision)
            margins.append(predictor.last_margins)
    if predictor is not None and decisions[0] is not None:
        predictor.last_decision = GateDecision.concat(decisions)
        predictor.last_margins = None if any(m is None for m in margins) else torch.cat(margins)
    return torch.cat(outputs), torch.cat(lengths)


class _Found:
    """Stands in for ``Speech2Text.beam_search`` so its post-processing runs on hypotheses found here."""

    def __init__(self, search, hyps: List[Hypothesis]) -> None:
        self.nn_dict = search.nn_dict
        self.hyps = hyps

    def __call__(self, x, maxlenratio: float, minlenratio: float) -> List[Hypothesis]:
        return self.hyps


def postprocess(s2t, hyps: List[Hypothesis]) -> list:
    """ESPnet's ``(text, token, token_int, text_nospecial, hyp)`` n-best list of ``hyps``."""
    search = s2t.beam_search
    s2t.beam_search = _Found(search, hyps)
    try:
        return s2t._decode_single_sample(None)
    finally:
        s2t.beam_search = search


@torch.no_grad()
def batch_decode(s2t, speeches: Sequence[torch.Tensor], lang_sym: str, task_sym: str,
                 encode_context: Optional[object] = None, encoder_batch_size: Optional[int] = None) -> List[list]:
    """Decode ``speeches`` (1-D waveforms) together; per utterance ``Speech2Text.__call__``'s result.

    ``encode_context``: a context manager the encoder calls run in (the model's language and task).
    ``encoder_batch_size``: utterances per encoder call (None: all; see :func:`encode_in_chunks`).
    """
    reason = why_not_batchable(s2t)
    if reason is not None:
        raise ValueError(f"{reason}: use batch_size 1")
    model = s2t.s2t_model
    dtype = getattr(torch, s2t.dtype)
    samples = int(s2t.preprocessor_conf["fs"] * s2t.preprocessor_conf["speech_length"])
    speech = fixed_window([torch.as_tensor(s) for s in speeches], samples).to(device=s2t.device, dtype=dtype)
    lengths = torch.full((speech.size(0),), samples, dtype=torch.long, device=speech.device)
    with encode_context if encode_context is not None else contextlib.nullcontext():
        memory, memory_lengths = encode_in_chunks(model, lambda rows: model.encode(speech[rows], lengths[rows]),
                                                  speech.size(0), encoder_batch_size)
    mask = (torch.arange(memory.size(1), device=memory.device)[None, :] < memory_lengths[:, None]).unsqueeze(1)
    decoder = dynprune_decoder(s2t)
    prompts = torch.tensor([prompt_ids(s2t, lang_sym, task_sym)] * speech.size(0), device=memory.device)
    bias = time_symbol_bias(s2t, len(model.token_list), memory.device, memory.dtype)
    found = batch_beam_search(decoder, memory, mask, prompts, s2t.beam_search.beam_size, model.eos,
                              s2t.maxlenratio, s2t.minlenratio, nbest=s2t.nbest, token_bias=bias)
    return [postprocess(s2t, [Hypothesis(yseq=h.yseq, score=h.score) for h in hyps]) for hyps in found]
