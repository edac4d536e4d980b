"""The synthetic mini corpus in the real corpora's layouts (``data.mini_corpus``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.corpora.languages import parse_langs
from espnet_dynprune.data.mini_corpus import (
    EUROPARL_SOURCES,
    FLEURS_SOURCES,
    GENERATOR,
    SEGMENT_SECONDS,
    MiniCorpus,
    generate_mini_corpus,
)
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> MiniCorpus:
    parser = argparse.ArgumentParser(
        prog=f"python -m {GENERATOR}",
        description="Generate the mini Europarl-ST v1.1 + FLEURS corpus from espeak-ng speech.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--europarl_langs", default="fr,de,it", help="comma-separated Europarl-ST sources ('' = none)")
    parser.add_argument(
        "--fleurs_langs", default="hu,bg", help="comma-separated FLEURS languages ('' = none; en_us is always made)"
    )
    parser.add_argument("--train", type=int, default=400, help="Europarl-ST train sentences per language")
    parser.add_argument("--dev", type=int, default=40)
    parser.add_argument("--test", type=int, default=60)
    parser.add_argument("--fleurs_train", type=int, default=200, help="FLEURS train sentences per language")
    parser.add_argument("--fleurs_dev", type=int, default=20)
    parser.add_argument("--fleurs_test", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_workers", type=int, default=4, help="parallel espeak-ng / ffmpeg processes")
    parser.add_argument(
        "--segment_seconds", type=float, default=SEGMENT_SECONDS,
        help="pad every recording with the noise floor to this length (0: natural lengths)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    configure_logging()
    try:
        europarl_langs = parse_langs(args.europarl_langs, "--europarl_langs", EUROPARL_SOURCES)
        fleurs_langs = parse_langs(args.fleurs_langs, "--fleurs_langs", FLEURS_SOURCES)
    except ValueError as exc:
        parser.error(str(exc))
    corpus = generate_mini_corpus(
        args.out,
        europarl_langs=europarl_langs,
        fleurs_langs=fleurs_langs,
        train=args.train,
        dev=args.dev,
        test=args.test,
        fleurs_train=args.fleurs_train,
        fleurs_dev=args.fleurs_dev,
        fleurs_test=args.fleurs_test,
        seed=args.seed,
        num_workers=args.num_workers,
        segment_seconds=args.segment_seconds,
    )
    state = "up to date" if corpus.reused else f"generated in {corpus.manifest['build_seconds']} s"
    print(f"{corpus.root}: {state}; {corpus.manifest['total_seconds'] / 60:.1f} min of audio")
    return corpus


if __name__ == "__main__":
    main()
