"""Recipe lookups in a model-zoo dir (``zoo.model_zoo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import yaml

from espnet_dynprune.zoo.model_zoo import PRINTABLE, ModelZooDir


def main(argv: Optional[Sequence[str]] = None) -> None:
    """``--print model_file`` (or config, bpemodel, token_list, stats_file) for shell scripts;
    ``--write_config PATH`` writes the config with absolute paths (decodable from anywhere)."""
    import argparse

    parser = argparse.ArgumentParser(description="Validate a model-zoo directory and print its parts.")
    parser.add_argument("--pretrained_model", type=Path, required=True)
    parser.add_argument("--print", dest="field", choices=PRINTABLE, default=None)
    parser.add_argument("--write_config", type=Path, default=None)
    args = parser.parse_args(argv)
    zoo = ModelZooDir.load(args.pretrained_model)
    if args.write_config is not None:
        args.write_config.parent.mkdir(parents=True, exist_ok=True)
        args.write_config.write_text(yaml.safe_dump(zoo.load_config(), sort_keys=False), encoding="utf-8")
    if args.field is not None:
        print(getattr(zoo, args.field))


if __name__ == "__main__":
    main()
