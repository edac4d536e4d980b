"""Recipe stages 6/10: the fine-tuning config merged from the pretrained model's (``zoo.finetune_config``)."""

from __future__ import annotations

import argparse
from typing import List, Optional

from espnet2.utils.types import str2bool

from espnet_dynprune.logs import configure_logging
from espnet_dynprune.zoo import finetune_config as library
from espnet_dynprune.zoo.finetune_config import finetune_config
from espnet_dynprune.zoo.model_zoo import ModelZooDir


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=library.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pretrained_model", required=True, help="model-zoo directory (meta.yaml inside)")
    parser.add_argument("--s2t_config", required=True, help="fine-tuning YAML (keys: see above)")
    parser.add_argument("--output", required=True, help="merged s2t_train config to write")
    parser.add_argument(
        "--check_weights", type=str2bool, default=False, help="build the model and load the weights strictly"
    )
    parser.add_argument("--check_lengths_of", nargs="+", default=(), metavar="DUMP_DIR",
                        help="dump dirs (utt2num_samples) whose utterances must fit the config's speech_length")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    configure_logging()
    args = get_parser().parse_args(argv)
    output = finetune_config(**vars(args))
    zoo = ModelZooDir.load(args.pretrained_model)
    print(f"--config {output} --init_param {zoo.model_file}")


if __name__ == "__main__":
    main()
