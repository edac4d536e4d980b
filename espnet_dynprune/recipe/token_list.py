"""Recipe stage 5: the token list, the pretrained model's or a new BPE model (``zoo.token_list``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from espnet_dynprune.zoo import token_list as library
from espnet_dynprune.zoo.token_list import NO_PRETRAINED, copy_token_list, train_from_text


def main(argv: Optional[Sequence[str]] = None) -> Path:
    parser = argparse.ArgumentParser(description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--pretrained_model", required=True,
                        help=f"model-zoo directory, or {NO_PRETRAINED!r} to train a new token list")
    parser.add_argument("--output_dir", type=Path, required=True, help="e.g. data/token_list")
    parser.add_argument("--check_text", type=Path, default=None,
                        help="OWSM text whose <symbols> must be tokens (the training text for a new list)")
    parser.add_argument("--nbpe", type=int, default=None, help="pieces of a new token list (with --pretrained_model none)")
    args = parser.parse_args(argv)
    if args.pretrained_model == NO_PRETRAINED:
        if args.nbpe is None or args.check_text is None:
            parser.error(f"--pretrained_model {NO_PRETRAINED} trains a token list: give --nbpe and --check_text")
        out = train_from_text([args.check_text], args.output_dir / f"bpe_unigram{args.nbpe}", args.nbpe).tokens.parent
    else:
        if args.nbpe is not None:
            parser.error("--nbpe trains a new token list, but a pretrained model's is never retrained")
        out = copy_token_list(args.pretrained_model, args.output_dir, args.check_text)
    print(out)
    return out


if __name__ == "__main__":
    main()
