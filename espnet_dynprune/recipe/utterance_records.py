"""What stage 12 records of each decoded utterance: text, tokens, seconds, gates, decoder calls.

One utterance at a time goes through ``Speech2Text.__call__`` (ESPnet's beam search); several go
through ``Speech2Text.batch_decode`` (one encoder call, one decoder call per step for all). A
batch's seconds are shared out evenly over its utterances (amortised: no utterance has a time of
its own), and so are its decoder calls: each utterance gets ``[rows / B, prefix length, cached]``
of every step the batch ran, the rows of utterances that had already ended included, as they are
computed too. Gate records are each utterance's own row.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

from espnet_dynprune.inference.batched_decoding import dynprune_decoder


def gate_record(model, row: int = 0) -> Dict[str, dict]:
    """Per gated part: the keep flag of each gate of utterance ``row`` of the last decision, its
    realised (and FLOPs-weighted) sparsity and, when predicted, each gate's margin."""
    record: Dict[str, dict] = {"gates": {}, "sparsity": {}, "sparsity_flops": {}, "margins": {}}
    parts = model.gated_parts() if hasattr(model, "gated_parts") else {}
    for name, part in parts.items():
        decision = part.last_gates
        if decision is None:
            continue
        mine = decision.row(row)
        record["gates"][name] = {gate: bool(mine.keep[0, g]) for g, gate in enumerate(mine.names)}
        margins = part.gate_predictor.last_margins
        if margins is not None:  # predicted (not forced): keep minus skip logit of each gate
            record["margins"][name] = [round(float(m), 4) for m in margins[row]]
        stats = part.sparsity_stats(name, mine)
        record["sparsity"][name] = float(stats[f"{name}_sparsity"])
        record["sparsity_flops"][name] = float(stats[f"{name}_sparsity_flops"])
    return record


@contextmanager
def _replaced(owner, name: str, value) -> Iterator[None]:
    """``owner.name`` is ``value`` inside; afterwards what it was (an instance attribute set before,
    e.g. a bf16 entry of :mod:`espnet_dynprune.inference.precision`, comes back)."""
    own = vars(owner)
    had, old = name in own, own.get(name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if had:
            setattr(owner, name, old)
        else:
            delattr(owner, name)


@contextmanager
def recorded_calls(decoder, method: str, rows_per_utt: int = 1) -> Iterator[List[List[int]]]:
    """Record ``[hypotheses, prefix length, cached]`` of every ``decoder.<method>`` call inside:
    ``batch_score(ys, states, xs)`` (ESPnet's beam search) or ``step(tgt, mask, source, cache)``
    (the batched one, whose rows are shared by ``rows_per_utt`` utterances).

    ESPnet's beam search runs more steps than the best hypothesis has tokens (it goes on until
    end detection), so FLOPs "as run" need the real calls.
    """
    calls: List[List[int]] = []
    original = getattr(decoder, method)

    def recording(ys, states_or_mask, *args, **kwargs):
        cached = states_or_mask[0] is not None if method == "batch_score" else args[1] is not None
        calls.append([int(ys.size(0)) // rows_per_utt, int(ys.size(1)), int(cached)])
        return original(ys, states_or_mask, *args, **kwargs)

    with _replaced(decoder, method, recording):
        yield calls


@contextmanager
def timed_encoder(model) -> Iterator[List[float]]:
    """Record the wall-clock seconds of every ``model.encode`` call inside (the rest of a
    decoding is the decoder's beam search)."""
    seconds: List[float] = []
    encode = model.encode

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return encode(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - start)

    with _replaced(model, "encode", timed):
        yield seconds


def _result(best: tuple) -> dict:
    text, tokens, _, text_nospecial, _ = best
    if text_nospecial is None:  # a model without a tokenizer: show the plain tokens
        text_nospecial = " ".join(t for t in tokens if not (t.startswith("<") and t.endswith(">")))
    return {"text": text_nospecial.strip(), "tokens": list(tokens)}


def decode_utterance(s2t, speech, lang_sym: str, task_sym: str) -> dict:
    """Decode one waveform: text, tokens, wall-clock seconds (all, and the encoder's), decoder
    calls and the gate record."""
    decoder = s2t.s2t_model.decoder
    with recorded_calls(decoder, "batch_score") as calls, timed_encoder(s2t.s2t_model) as encoder:
        start = time.perf_counter()
        best = s2t(speech, lang_sym=lang_sym, task_sym=task_sym)[0]
        seconds = time.perf_counter() - start
    return {**_result(best), "seconds": seconds, "encoder_seconds": sum(encoder), "decoder_calls": calls,
            **gate_record(s2t.s2t_model)}


def decode_utterances(s2t, speeches: Sequence, lang_sym: str, task_sym: str,
                      encoder_batch_size: Optional[int] = None) -> List[dict]:
    """Decode the waveforms together (``batch_decode``, encoding ``encoder_batch_size`` at a time);
    one record per utterance, as :func:`decode_utterance` gives, with the batch's seconds and
    decoder calls shared out."""
    n = len(speeches)
    decoder = dynprune_decoder(s2t)
    with recorded_calls(decoder, "step", n) as calls, timed_encoder(s2t.s2t_model) as encoder:
        start = time.perf_counter()
        nbests = s2t.batch_decode(speeches, lang_sym=lang_sym, task_sym=task_sym,
                                  encoder_batch_size=encoder_batch_size)
        seconds = time.perf_counter() - start
    return [{**_result(nbest[0]), "seconds": seconds / n, "encoder_seconds": sum(encoder) / n,
             "decoder_calls": calls, **gate_record(s2t.s2t_model, row)} for row, nbest in enumerate(nbests)]
