"""``python -m espnet_dynprune.recipe.progress``: training's progress on the console.

ESPnet's trainer writes everything to ``train.log`` and the console shows nothing for the whole
of a training stage. This follows the log while the stage runs and prints one line per epoch
start, per ESPnet log interval and per finished epoch (loss, accuracy, sparsity, elapsed time and
ESPnet's own estimate of the time left), leaving the log itself as ESPnet writes it.
The recipe starts it beside ``espnet2.bin.launch`` with ``--pid`` of the recipe's shell, and
stops it with SIGTERM when training ends; it prints what is still unread, then exits.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

STARTED = re.compile(r"(\d+)/(\d+)epoch started(?:\. Estimated time to finish: (.*))?$")
INTERVAL = re.compile(r"(\d+)epoch:train:(\d+-\d+)batch: (.*)$")
RESULTS = re.compile(r"(\d+)epoch results: (.*)$")
FINISHED = re.compile(r"The training was finished at (\d+) epochs")
SHOWN = ("loss", "loss_distill", "acc", "enc_sparsity", "dec_sparsity", "sparsity_realised")


def _stats(text: str) -> dict:
    """``key=value`` pairs of an ESPnet reporter line, per ``[section]`` (one section if there are none)."""
    sections, name = {}, "train"
    for token in re.split(r",?\s+", text):
        head = re.fullmatch(r"\[(\w+)\]", token)
        if head:
            name = head.group(1)
        elif "=" in token:
            key, value = token.split("=", 1)
            sections.setdefault(name, {})[key] = value.rstrip(",")
    return sections


def _shown(stats: dict) -> str:
    return ", ".join(f"{k} {stats[k]}" for k in SHOWN if k in stats)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def summarise(line: str, elapsed: float) -> Optional[str]:
    """The console line for one line of ``train.log``, or None for lines the console does not need."""
    line = line.rstrip()
    message = line.split(" INFO: ", 1)[-1]
    if m := STARTED.search(message):
        left = f", about {m.group(3)} left (ESPnet's estimate)" if m.group(3) else ""
        return f"epoch {m.group(1)}/{m.group(2)} started [{_duration(elapsed)} elapsed{left}]"
    if m := INTERVAL.search(message):
        return f"  epoch {m.group(1)}, batches {m.group(2)}: {_shown(_stats(m.group(3)).get('train', {}))}"
    if m := RESULTS.search(message):
        stats = _stats(m.group(2))
        parts = [f"{name} {_shown(stats[name])}" for name in ("train", "valid") if stats.get(name)]
        return f"epoch {m.group(1)} done: {'; '.join(parts)} [{_duration(elapsed)} elapsed]"
    if m := FINISHED.search(message):
        return f"training finished at {m.group(1)} epochs [{_duration(elapsed)} elapsed]"
    return None


def new_lines(log: Path, alive: Callable[[], bool], poll: float = 1.0) -> Iterator[str]:
    """Lines appended to ``log`` from now on (from its start if it is made anew or truncated),
    until ``alive()`` is false; then what is left unread."""
    position, inode = 0, None
    if log.exists():
        position, inode = log.stat().st_size, log.stat().st_ino
    pending = ""
    while True:
        running = alive()
        if log.exists():
            st = log.stat()
            if st.st_ino != inode or st.st_size < position:
                position, inode, pending = 0, st.st_ino, ""
            with open(log, encoding="utf-8", errors="replace") as f:
                f.seek(position)
                pending += f.read()
                position = f.tell()
            *complete, pending = pending.split("\n")
            yield from complete
        if not running:
            return
        time.sleep(poll)


def follow(log: Path, alive: Callable[[], bool], out: Callable[[str], None] = print, poll: float = 1.0) -> None:
    """Print the summary of every new line of ``log`` while ``alive()``."""
    start = time.monotonic()
    for line in new_lines(log, alive, poll):
        text = summarise(line, time.monotonic() - start)
        if text:
            out(text)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", type=Path, required=True, help="ESPnet's train.log")
    parser.add_argument("--pid", type=int, required=True, help="stop when this process (the recipe) is gone")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between reads of the log")
    args = parser.parse_args(argv)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    follow(args.log, lambda: not stopping and _process_alive(args.pid),
           out=lambda text: print(text, flush=True), poll=args.poll)


if __name__ == "__main__":
    main()
