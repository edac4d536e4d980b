"""Recipe stage 4: utterances too short or too long for training dropped, with a count (``corpora.filter_lengths``)."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from espnet_dynprune.corpora import filter_lengths as library
from espnet_dynprune.corpora.filter_lengths import filter_lengths
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=library.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in_dir", required=True, help="dump dir of stage 3 (dump/raw/org/<set>)")
    parser.add_argument("--out_dir", required=True, help="dump dir to write (dump/raw/<set>)")
    parser.add_argument("--min_duration", type=float, default=0.1, help="drop utterances shorter than this (s)")
    parser.add_argument("--max_duration", type=float, default=30.0, help="drop utterances longer than this (s)")
    parser.add_argument("--sample_rate", type=int, default=16000, help="sample rate of the dump dir's wavs (Hz)")
    configure_logging()
    filter_lengths(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
