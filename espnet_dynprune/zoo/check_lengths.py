"""Fail before training when an utterance is longer than the model's ``speech_length``.

Why: ESPnet's S2TPreprocessor pads or TRIMS every input to ``preprocessor_conf.speech_length``
seconds (OWSM: 30 s) without a word, so a longer utterance trains on cut audio against its full
transcript. Dump dirs carry ``utt2num_samples`` (stage 3), which makes the check cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple, Union

import yaml

from espnet_dynprune.owsm.datadir import read_map

PathLike = Union[str, Path]


def longest(data_dir: PathLike) -> Tuple[str, int]:
    """(utt_id, samples) of the longest utterance of a dump dir."""
    lengths = read_map(Path(data_dir) / "utt2num_samples")
    if not lengths:
        raise ValueError(f"{data_dir}/utt2num_samples is empty")
    utt = max(lengths, key=lambda u: int(lengths[u]))
    return utt, int(lengths[utt])


def check_lengths(config: PathLike, data_dirs: Sequence[PathLike]) -> float:
    """Raise naming the utterance if any is longer than the config's speech_length; return the max seconds."""
    conf = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    pre = conf.get("preprocessor_conf") or {}
    if "speech_length" not in pre:
        raise ValueError(f"{config}: preprocessor_conf.speech_length is not set")
    limit, fs = float(pre["speech_length"]), int(pre.get("fs", 16000))
    worst = 0.0
    for data_dir in data_dirs:
        utt, samples = longest(data_dir)
        seconds = samples / fs
        if seconds > limit:
            raise ValueError(f"{data_dir}: {utt} lasts {seconds:.2f} s, longer than speech_length={limit} "
                             f"in {config}; raise it or drop long utterances (run.sh --max_wav_duration)")
        worst = max(worst, seconds)
    return worst
