"""One timer for every benchmark and for the recipe's clean decode timing.

A ratio is only as good as the way both of its sides were timed, so every speed number of the
project is timed the same way, here: each candidate once per round, all candidates in turn (a
drift of the machine, a neighbour's job, thermal throttling hits all of them alike), after
untimed warm-up rounds; a clock that first waits for the GPU to finish what was queued; and per
candidate the median over the rounds with the spread of the totals, (max - min) / median.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, Hashable, List, Mapping, Optional, Sequence, TypeVar, Union

import torch

K = TypeVar("K", bound=Hashable)


def now(device: Union[torch.device, str] = "cpu") -> float:
    """Seconds, after ``device`` has finished the work queued on it (a CPU runs it at once)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class Phases:
    """The seconds of each named phase (encoder, decoder, one utterance...) per timed round."""

    def __init__(self) -> None:
        self.rounds: List[Dict[str, float]] = []

    def add(self, seconds: Mapping[str, float]) -> None:
        self.rounds.append(dict(seconds))

    def median(self, phase: str) -> float:
        return statistics.median(r[phase] for r in self.rounds)

    def totals(self) -> List[float]:
        return [sum(r.values()) for r in self.rounds]

    def summary(self) -> Dict[str, float]:
        """``<phase>_s`` medians, the median ``total_s`` of the rounds and its ``spread``."""
        if not self.rounds:
            raise ValueError("no timed round: repeats must be >= 1")
        totals = self.totals()
        total = statistics.median(totals)
        out = {f"{phase}_s": self.median(phase) for phase in self.rounds[0]}
        out.update(total_s=total, spread=(max(totals) - min(totals)) / total if total else 0.0)
        return out


def round_robin(candidates: Sequence[K], run: Callable[[K], Mapping[str, float]], repeats: int, warmup: int = 1,
                log: Optional[Callable[[str], None]] = None) -> Dict[K, Phases]:
    """``run(candidate)`` (the seconds of its phases) for every candidate in turn, ``warmup``
    untimed rounds and then ``repeats`` timed ones."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    phases = {c: Phases() for c in candidates}
    for r in range(warmup + repeats):
        for c in candidates:
            seconds = run(c)
            if r >= warmup:
                phases[c].add(seconds)
        if log:
            log(f"round {r + 1}/{warmup + repeats} done{' (warm-up)' if r < warmup else ''}")
    return phases
