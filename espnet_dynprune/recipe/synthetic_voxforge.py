"""A synthetic corpus in VoxForge's layout (``data.synthetic_voxforge``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from espnet_dynprune.corpora.languages import parse_langs
from espnet_dynprune.data import synthetic_voxforge as library
from espnet_dynprune.data.mini_corpus import FLEURS_SOURCES
from espnet_dynprune.data.synthetic_voxforge import SUBDIR, generate_voxforge
from espnet_dynprune.logs import configure_logging


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=library.__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the mini corpus (its manifest.json)")
    parser.add_argument("--langs", default="fr,de,it", help="comma-separated languages (ASR only)")
    parser.add_argument("--speakers", type=int, default=10, help="speakers per language")
    parser.add_argument("--sessions", type=int, default=2, help="sessions per speaker")
    parser.add_argument("--prompts", type=int, default=10, help="prompts per session")
    parser.add_argument("--num_workers", type=int, default=4, help="parallel espeak-ng processes")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        langs = parse_langs(args.langs, "--langs", FLEURS_SOURCES)
    except ValueError as exc:
        parser.error(str(exc))
    manifest = generate_voxforge(args.corpus, langs, speakers=args.speakers, sessions=args.sessions,
                                 prompts=args.prompts, num_workers=args.num_workers)
    print(f"{args.corpus / SUBDIR}: " + ", ".join(f"{k} {v['prompts']} prompts" for k, v in manifest["counts"].items()))
    return manifest


if __name__ == "__main__":
    main()
