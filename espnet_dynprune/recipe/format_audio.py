"""Recipe stage 3: audio cut and resampled into ``dump/`` (``corpora.format_audio``)."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from espnet_dynprune.corpora import format_audio as library
from espnet_dynprune.corpora.format_audio import format_audio
from espnet_dynprune.logs import configure_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=library.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in_dir", required=True, help="Kaldi data dir (stage 1 output)")
    parser.add_argument("--out_dir", required=True, help="dump dir to write (wavs under out_dir/data)")
    parser.add_argument("--nj", type=int, default=2, help="worker processes")
    parser.add_argument("--sample_rate", type=int, default=16000, help="output sample rate (Hz)")
    parser.add_argument("--max_duration", type=float, default=30.0, help="drop utterances longer than this (s)")
    parser.add_argument("--min_duration", type=float, default=0.1, help="drop utterances shorter than this (s)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    configure_logging()
    format_audio(**vars(get_parser().parse_args(argv)))


if __name__ == "__main__":
    main()
