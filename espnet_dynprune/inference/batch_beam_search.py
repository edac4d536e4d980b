"""Beam search over several utterances at once for the dynprune decoder.

ESPnet's ``BatchBeamSearch`` batches the hypotheses of ONE utterance; decoding a
test set therefore runs one small decoder call per step and utterance. Here B
utterances are decoded together: every step is a single ``decoder.step`` over
B x beam rows, with the gates and source keys/values prepared once for all of
them (``decoder.prepare_source``). The per-utterance semantics are those of
ESPnet's ``BeamSearch.forward`` / ``BatchBeamSearch.search`` / ``post_process``
with the decoder as the only scorer (weight 1, no CTC, LM or length bonus, no
length normalisation), so the n-best lists equal ESPnet's run utterance by
utterance, up to float rounding of differently shaped batches.

Layout: the hypotheses are a fixed (B, beam) grid (one hypothesis per utterance
at the first step). Slots whose hypothesis ended with ``<eos>`` and all slots of
finished utterances are dead (score -inf): they are still computed but never
selected. One small host copy per step (ended flags and scores) drives the
per-utterance bookkeeping (ended list, ``end_detect``, finishing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch

from espnet_dynprune.nets.decoder.state import UtteranceSource
from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.espnet_compat import end_detect, end_detect_step, subsequent_mask


@dataclass
class Hyp:
    """A finished hypothesis: prompt + tokens + ``<eos>``, and its summed log-probability."""

    yseq: torch.Tensor
    score: float


def length_bounds(num_frames: int, maxlenratio: float, minlenratio: float) -> tuple[int, int]:
    """ESPnet's (maxlen, minlen) for an input of ``num_frames`` encoder frames."""
    if maxlenratio == 0:
        maxlen = num_frames
    elif maxlenratio < 0:
        maxlen = -1 * int(maxlenratio)
    else:
        maxlen = max(1, int(maxlenratio * num_frames))
    if minlenratio < 0:
        minlen = -1 * int(minlenratio)
    else:
        minlen = int(minlenratio * num_frames)
    return maxlen, minlen


@torch.no_grad()
def batch_beam_search(
    decoder: TransformerDynPruneDecoder,
    memory: torch.Tensor,
    memory_mask: Optional[torch.Tensor],
    prompts: torch.Tensor,
    beam_size: int,
    eos: int,
    maxlenratio: float = 0.0,
    minlenratio: float = 0.0,
    nbest: Optional[int] = 1,
    token_bias: Optional[torch.Tensor] = None,
) -> List[List[Hyp]]:
    """Decode B utterances together; per utterance the n-best of ESPnet's beam search.

    Args:
        decoder: the dynprune decoder (gates decided, or forced, per utterance).
        memory: (B, T, D) encoder output.
        memory_mask: (B, 1, T) True on real frames, or None (no padding).
        prompts: (B, P) hypothesis primers, e.g. ``<sos><lang><task><notimestamps>``.
        beam_size: hypotheses kept per utterance.
        eos: end-of-sentence id.
        maxlenratio, minlenratio: as ESPnet's, against each utterance's valid
            number of frames (0: end detection, bound by the frame count).
        nbest: how many hypotheses to return per utterance (None: all ended ones).
        token_bias: (V,) added to every step's log-probabilities (-inf bars a token, as ESPnet's
            ``ScoreFilter`` bars the time symbols after ``<notimestamps>``), or None.

    Returns:
        For each utterance its best hypotheses, best first; empty where ESPnet
        returns none. Like ESPnet, when an utterance ends without any hypothesis
        (minlen too large) it is decoded again with ``minlenratio - 0.1`` while
        ``minlenratio >= 0.1`` (the other utterances sit out as dead rows).
    """
    if memory_mask is None:
        frames = [memory.size(1)] * memory.size(0)
    else:
        frames = memory_mask.reshape(memory.size(0), -1).sum(-1).tolist()
    maxlens = [length_bounds(t, maxlenratio, minlenratio)[0] for t in frames]
    source = decoder.prepare_source(memory, memory_mask, prompts)
    results: List[List[Hyp]] = [[] for _ in frames]
    todo = list(range(len(frames)))
    ratio = minlenratio
    while True:
        minlens = [length_bounds(t, maxlenratio, ratio)[1] for t in frames]
        ended = _search(
            decoder, source, prompts, beam_size, eos, maxlens, minlens, todo,
            end_detection=maxlenratio == 0.0, dtype=memory.dtype, token_bias=token_bias,
        )
        for b in todo:
            results[b] = sorted(ended[b], key=lambda h: h.score, reverse=True)[:nbest]
        todo = [b for b in todo if not results[b]]
        if not todo or ratio < 0.1:
            return results
        ratio = max(0.0, ratio - 0.1)


def _search(
    decoder: TransformerDynPruneDecoder,
    source: UtteranceSource,
    prompts: torch.Tensor,
    beam: int,
    eos: int,
    maxlens: Sequence[int],
    minlens: Sequence[int],
    active: Sequence[int],
    end_detection: bool,
    dtype: torch.dtype,
    token_bias: Optional[torch.Tensor],
) -> List[List[Hyp]]:
    """One ESPnet search loop for the ``active`` utterances; their ended hypotheses, unsorted."""
    device = prompts.device
    num_utts = prompts.size(0)
    ended: List[List[Hyp]] = [[] for _ in range(num_utts)]
    running = [b in active and maxlens[b] > 0 for b in range(num_utts)]
    score = torch.zeros(num_utts, 1, dtype=dtype, device=device)
    score[[b for b in range(num_utts) if not running[b]]] = float("-inf")
    last_step = torch.tensor(maxlens, device=device).unsqueeze(1) - 1  # (B, 1)
    utt_offset = torch.arange(num_utts, device=device).unsqueeze(1)  # (B, 1)
    eos_token = torch.tensor([eos], dtype=prompts.dtype, device=device)
    yseq, cache, i = prompts, None, 0
    while any(running):
        k = score.size(1)  # 1 at the first step, then beam
        tgt_mask = subsequent_mask(yseq.size(1), device=device).unsqueeze(0)
        logp, cache = decoder.step(yseq, tgt_mask, source, cache)
        if token_bias is not None:
            logp = logp + token_bias
        vocab = logp.size(-1)
        # BatchBeamSearch.search: top beam over the flattened (running hyps x vocab)
        candidates = (logp.view(num_utts, k, vocab) + score.unsqueeze(-1)).view(num_utts, -1)
        score, top = candidates.topk(beam, dim=1)
        rows = (utt_offset * k + torch.div(top, vocab, rounding_mode="floor")).view(-1)
        token = top % vocab
        yseq = torch.cat((yseq.index_select(0, rows), token.view(-1, 1)), dim=1)
        cache = [c.index_select(0, rows) for c in cache]
        # post_process: <eos> (or the forced one at i == maxlen - 1) ends a hypothesis
        is_eos = (token == eos) | (last_step == i)
        flags, scores = torch.stack((is_eos.to(score.dtype), score)).tolist()  # one sync a step
        score = score.masked_fill(is_eos, float("-inf"))
        for b in range(num_utts):
            if not running[b]:
                continue
            stopped = [flag > 0 for flag in flags[b]]  # all beam slots of a running one are live
            if i >= minlens[b]:
                for slot in (slot for slot, stop in enumerate(stopped) if stop):
                    y = yseq[b * beam + slot]
                    y = torch.cat((y, eos_token)) if i == maxlens[b] - 1 else y.clone()
                    ended[b].append(Hyp(y, scores[b][slot]))
            detected = end_detection and end_detect(
                [{"yseq": h.yseq, "score": h.score} for h in ended[b]], end_detect_step(i, prompts.size(1))
            )
            if detected or all(stopped):  # end detected, or no running hypothesis left
                running[b] = False
                score[b] = float("-inf")
        i += 1
    return ended
