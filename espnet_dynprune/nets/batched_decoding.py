"""Several utterances decoded at once through ESPnet's ``Speech2Text``, with ESPnet's results.

Why: ``Speech2Text.__call__`` decodes one utterance: one encoder call and, per step, one decoder
call over that utterance's beam. Here B utterances share both: one encoder call over B rows (OWSM
pads or cuts every input to the same window, so no row is padding) and one decoder call per step
over B x beam rows (:func:`~espnet_dynprune.nets.batch_beam_search.batch_beam_search`, source K/V
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

from typing import List, Optional, Sequence

import torch
from espnet.nets.beam_search import Hypothesis
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_dynprune.nets.batch_beam_search import batch_beam_search
from espnet_dynprune.nets.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.transformer_pruned import TransformerPrunedDecoder

#: Beam-search scorers the batched search reproduces (the decoder, and ScoreFilter's bar on time symbols).
REPRODUCED_SCORERS = ("decoder", "scorefilter")


def check_batchable(s2t) -> None:
    """Raise naming the option when ``s2t`` decodes with something the batched search does not run."""
    search = s2t.beam_search
    extra = sorted(set(search.full_scorers) - set(REPRODUCED_SCORERS)) + sorted(search.part_scorers)
    if extra:
        raise ValueError(f"batched decoding runs the decoder alone, but the beam search also scores with {extra} "
                         f"(ctc_weight / lm_weight / ngram_weight / penalty not 0): use batch_size 1")
    if s2t.partial_ar or s2t.predict_time:
        raise ValueError("batched decoding does not run partially autoregressive decoding or timestamps "
                         "(partial_ar / predict_time): use batch_size 1")


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
    twin.load_state_dict(decoder.state_dict(), strict=True, assign=True)  # the same tensors: no second copy
    s2t._dynprune_twin = twin.to(device=param.device, dtype=param.dtype).eval()
    return s2t._dynprune_twin


def prompt_ids(s2t, lang_sym: str, task_sym: str) -> List[int]:
    """``<sos><lang><task><notimestamps>``, the hypothesis primer ``Speech2Text.__call__`` sets."""
    token2id = s2t.converter.token2id
    return [s2t.s2t_model.sos, token2id[lang_sym], token2id[task_sym], token2id[s2t.preprocessor_conf["notime_symbol"]]]


def fixed_window(speeches: Sequence[torch.Tensor], samples: int) -> torch.Tensor:
    """(B, samples): each waveform cut or zero-padded to the model's window, as ``__call__`` does."""
    return torch.stack([torch.nn.functional.pad(s[:samples], (0, max(0, samples - s.numel()))) for s in speeches])


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
def decode_batch(s2t, speeches: Sequence[torch.Tensor], lang_sym: str, task_sym: str,
                 encode_context: Optional[object] = None) -> List[list]:
    """Decode ``speeches`` (1-D waveforms) together; per utterance ``Speech2Text.__call__``'s result.

    ``encode_context``: a context manager the encoder call runs in (the model's language and task).
    """
    check_batchable(s2t)
    model = s2t.s2t_model
    dtype = getattr(torch, s2t.dtype)
    samples = int(s2t.preprocessor_conf["fs"] * s2t.preprocessor_conf["speech_length"])
    speech = fixed_window([torch.as_tensor(s) for s in speeches], samples).to(device=s2t.device, dtype=dtype)
    lengths = torch.full((speech.size(0),), samples, dtype=torch.long, device=speech.device)
    if encode_context is None:
        memory, memory_lengths = model.encode(speech, lengths)
    else:
        with encode_context:
            memory, memory_lengths = model.encode(speech, lengths)
    if isinstance(memory, tuple):  # intermediate CTC outputs: not decoded here
        memory = memory[0]
    mask = (torch.arange(memory.size(1), device=memory.device)[None, :] < memory_lengths[:, None]).unsqueeze(1)
    decoder = dynprune_decoder(s2t)
    prompts = torch.tensor([prompt_ids(s2t, lang_sym, task_sym)] * speech.size(0), device=memory.device)
    bias = time_symbol_bias(s2t, len(model.token_list), memory.device, memory.dtype)
    found = batch_beam_search(decoder, memory, mask, prompts, s2t.beam_search.beam_size, model.eos,
                              s2t.maxlenratio, s2t.minlenratio, nbest=s2t.nbest, token_bias=bias)
    return [postprocess(s2t, [Hypothesis(yseq=h.yseq, score=h.score) for h in hyps]) for hyps in found]
