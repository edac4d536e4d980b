"""Recipe stage 4: drop the utterances of a dump dir that are too long or too short.

As in ESPnet's s2t.sh, stage 3 formats the training and validation sets into ``dump/raw/org``
and this stage writes ``dump/raw/{train,dev}`` with only the utterances whose length is within
``[--min_duration, --max_duration]`` seconds (OWSM's input window is 30 s; ESPnet's
S2TPreprocessor would cut a longer one without a word). Lengths come from ``utt2num_samples``;
the wavs stay where stage 3 wrote them. Every drop is counted and logged per reason.

Usage::

    python -m espnet_dynprune.recipe.filter_lengths --in_dir dump/raw/org/train --out_dir dump/raw/train
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Union

from espnet_dynprune.corpora.checks import Skips
from espnet_dynprune.corpora.format_audio import write_dump
from espnet_dynprune.owsm.datadir import read_map

logger = logging.getLogger(__name__)


def filter_lengths(
    in_dir: Union[str, Path],
    out_dir: Union[str, Path],
    min_duration: float = 0.1,
    max_duration: float = 30.0,
    sample_rate: int = 16000,
) -> Path:
    """Write the dump dir ``out_dir``: ``in_dir`` less the utterances outside the limits."""
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not 0 <= min_duration < max_duration or sample_rate <= 0:
        raise ValueError(f"need 0 <= min_duration < max_duration and sample_rate > 0; got "
                         f"{min_duration=}, {max_duration=}, {sample_rate=}")
    wav_scp = read_map(in_dir / "wav.scp")
    num_samples = read_map(in_dir / "utt2num_samples")
    missing = [u for u in wav_scp if u not in num_samples]
    if missing:
        raise ValueError(f"{in_dir / 'utt2num_samples'} has no line for {missing[0]!r} ({len(missing)} missing)")
    skips = Skips(f"utterances of {in_dir}")
    kept = {}
    for utt, wav in wav_scp.items():
        seconds = int(num_samples[utt]) / sample_rate
        if seconds > max_duration:
            skips.add(f"longer than max_duration={max_duration} s", f"{utt} ({seconds:.2f} s)")
        elif seconds < min_duration:
            skips.add(f"shorter than min_duration={min_duration} s", f"{utt} ({seconds:.2f} s)")
        else:
            kept[utt] = wav
    skips.log(total=len(wav_scp))
    if not kept:
        raise ValueError(f"no utterance of {in_dir} is {min_duration}-{max_duration} s long; see the skip counts above")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_dump(in_dir, out_dir, kept, {u: num_samples[u] for u in kept})
    logger.info("%s: %d of %d utterances", out_dir, len(kept), len(wav_scp))
    return out_dir
