"""Pack an experiment into a model-zoo dir (``zoo.pack``)."""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2.utils.types import str2bool

from espnet_dynprune.logs import configure_logging
from espnet_dynprune.zoo import pack as library
from espnet_dynprune.zoo.pack import pack


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=library.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--s2t_train_config", required=True, help="config.yaml written by s2t_train")
    parser.add_argument("--s2t_model_file", required=True, help="weights (*.pth state dict)")
    parser.add_argument("--output_dir", required=True, help="new or empty directory to write")
    parser.add_argument("--stats_file", default=None, help="feats_stats.npz (default: the config's)")
    parser.add_argument("--half", type=str2bool, default=False, help="store weights as fp16")
    parser.add_argument("--provenance", default=None, help="free text stored in meta.yaml")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    configure_logging()
    zoo = pack(**vars(get_parser().parse_args(argv)))
    size = sum(p.stat().st_size for p in zoo.root.rglob("*") if p.is_file())
    print(f"wrote {zoo.root} ({size / 1e6:.1f} MB): config {zoo.config}, model {zoo.model_file}")


if __name__ == "__main__":
    main()
