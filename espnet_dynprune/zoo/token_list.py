"""Stage 5: take the pretrained model's token list and BPE model; never retrain them.

Why a check: fine-tuning data may use a language or task the pretrained model has no token for
(e.g. ``<hun>`` with a model pretrained without Hungarian). The S2T preprocessor would map it to
``<unk>`` silently and the gate predictor would get no language; here it fails, naming the symbol
and the file that uses it.

``python -m espnet_dynprune.zoo.token_list --pretrained_model DIR --output_dir data/token_list
--check_text dump/raw/train/text`` copies ``bpe.model`` and ``tokens.txt`` to
``output_dir/<name of the pretrained token dir>/`` and prints that dir.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from typing import List, Optional, Sequence, Union

from espnet_dynprune.zoo.model_zoo import ModelZooDir, ModelZooError

PathLike = Union[str, Path]
_SPECIALS = re.compile(r"<[^<>\s]+>")


def check_symbols(text_file: PathLike, tokens: Sequence[str]) -> int:
    """Raise if a ``<...>`` symbol in ``text_file`` (OWSM ``text``) is not a token; return lines read."""
    known = set(tokens)
    missing: dict = {}
    lines = 0
    with open(text_file, encoding="utf-8") as f:
        for lines, line in enumerate(f, 1):
            utt, _, text = line.rstrip("\n").partition(" ")
            for symbol in _SPECIALS.findall(text):
                if symbol not in known:
                    missing.setdefault(symbol, utt)
    if missing:
        listed = ", ".join(f"{s} (first in {u})" for s, u in sorted(missing.items()))
        raise ValueError(f"{text_file} uses symbols that are not in the pretrained token list: {listed}")
    return lines


def copy_token_list(pretrained_model: PathLike, output_dir: PathLike, check_text: Optional[PathLike] = None) -> Path:
    """Copy the pretrained ``bpe.model`` and ``tokens.txt``; optionally check a text file's symbols."""
    zoo = ModelZooDir.load(pretrained_model)
    if zoo.bpemodel is None:
        raise ModelZooError(f"{zoo.config} has no bpemodel: this recipe expects an OWSM BPE model")
    tokens: List[str] = zoo.tokens()
    name = zoo.token_list.parent.name if zoo.token_list is not None else zoo.bpemodel.parent.name
    out = Path(output_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(zoo.bpemodel, out / "bpe.model")
    (out / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    if check_text is not None:
        check_symbols(check_text, tokens)
    return out


def main(argv: Optional[Sequence[str]] = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pretrained_model", type=Path, required=True, help="model-zoo directory")
    parser.add_argument("--output_dir", type=Path, required=True, help="e.g. data/token_list")
    parser.add_argument("--check_text", type=Path, default=None, help="OWSM text whose <symbols> must be tokens")
    args = parser.parse_args(argv)
    out = copy_token_list(args.pretrained_model, args.output_dir, args.check_text)
    print(out)
    return out


if __name__ == "__main__":
    main()
