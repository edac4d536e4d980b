"""Recipe check: the longest utterance fits the model's positional encoding (``zoo.check_lengths``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.zoo import check_lengths as library
from espnet_dynprune.zoo.check_lengths import check_lengths


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="s2t_train config with preprocessor_conf")
    parser.add_argument("--data_dirs", type=Path, nargs="+", required=True, help="dump dirs with utt2num_samples")
    args = parser.parse_args(argv)
    print(f"longest utterance: {check_lengths(args.config, args.data_dirs):.2f} s")


if __name__ == "__main__":
    main()
