"""Recipe stage 1: Kaldi data dirs from the corpora (``corpora.prepare``)."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

from espnet_dynprune.corpora import prepare as library
from espnet_dynprune.corpora.prepare import prepare
from espnet_dynprune.logs import configure_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=library.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data", help="where the data dirs go")
    parser.add_argument("--europarl_st", default="", help="Europarl-ST v1.1 root (db.sh EUROPARL_ST); empty: off")
    parser.add_argument("--europarl_st_langs", default="fr,de,it", help="source languages (2-letter, comma-separated)")
    parser.add_argument("--tasks", default="asr,st", help="asr and/or st (into English), comma-separated")
    parser.add_argument("--fleurs", default="", help="FLEURS root (db.sh FLEURS); empty: off")
    parser.add_argument("--fleurs_langs", default="hu,bg", help="FLEURS languages (2-letter, comma-separated)")
    parser.add_argument("--voxforge", default="", help="VoxForge root (db.sh VOXFORGE); empty: off")
    parser.add_argument("--voxforge_langs", default="bg", help="VoxForge languages (2-letter, comma-separated)")
    parser.add_argument("--voxforge_dev_fraction", type=float, default=0.05, help="share of speakers for dev")
    parser.add_argument("--voxforge_test_fraction", type=float, default=0.05, help="share of speakers for test")
    parser.add_argument("--asterisk", default="", help="Asterisk prompts root (db.sh ASTERISK, /usr/share); empty: off")
    parser.add_argument("--asterisk_langs", default="en,es,fr,it,ru", help="prompt languages (2-letter, comma-separated)")
    parser.add_argument("--asterisk_voices", default="", help="only these voice dirs (comma-separated); empty: all")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    configure_logging()
    prepare(**vars(get_parser().parse_args(argv)))


if __name__ == "__main__":
    main()
