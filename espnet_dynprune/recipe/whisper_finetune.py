"""Recipe stage 10 for Whisper: set up fine-tuning of a converted model, dense or dynamically pruned.

``python -m espnet_dynprune.recipe.whisper_finetune --model_dir exp/whisper_base --finetune_config
conf/finetune_whisper_dynprune.yaml --exp_dir exp/finetune_base_dynprune --train_dirs dump/raw/train
--valid_dir dump/raw/dev``

Writes ``EXP/train.yaml`` (:func:`~espnet_dynprune.zoo.whisper_finetune.whisper_finetune_config`)
and Whisper's targets of each data dir, ``EXP/data/{train,valid}/``: ``wav.scp``, ``text`` (the
transcript or the English translation, without the OWSM prefix) and, for a multilingual Whisper,
``prompt`` (``<|fr|> <|translate|>``: ESPnet's per-utterance prompt). An English-only Whisper
learns English transcription alone: the other utterances are left out, counted in the log.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import yaml

from espnet_dynprune.logs import configure_logging
from espnet_dynprune.owsm.datadir import read_map, write_map
from espnet_dynprune.owsm.symbols import parse_target
from espnet_dynprune.recipe.whisper_decode import whisper_context


def whisper_targets(data_dirs: Sequence[Path], out_dir: Path, multilingual: bool, limit: int = 0) -> int:
    """Write ``out_dir/{wav.scp,text[,prompt]}`` from OWSM-format dump dirs; returns the utterances
    written (``limit`` of them spread evenly over the ids, so every language is in; 0: all)."""
    rows: List[Tuple[str, str, str, str]] = []  # (utt, audio, text, prompt)
    skipped = 0
    for data_dir in data_dirs:
        audio = read_map(data_dir / "wav.scp")
        for utt, line in sorted(read_map(data_dir / "text").items()):
            where = f"{data_dir / 'text'}: {utt}"
            target = parse_target(line, where)
            language, task = whisper_context(target, where)
            if not multilingual and (language, task) != ("en", "transcribe"):
                skipped += 1
                continue
            if utt not in audio:
                raise ValueError(f"{data_dir / 'wav.scp'} has no audio for {utt}")
            rows.append((utt, audio[utt], target.text, f"<|{language}|> <|{task}|>"))
    if not rows:
        raise ValueError(f"no utterance of {[str(d) for d in data_dirs]} is one this Whisper can learn")
    if skipped:
        logging.info(f"{out_dir}: left out {skipped} utterances an English-only Whisper cannot learn (not English "
                     f"transcription)")
    if 0 < limit < len(rows):
        rows = [rows[i * len(rows) // limit] for i in range(limit)]
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = {"wav.scp": 1, "text": 2, **({"prompt": 3} if multilingual else {})}
    for name, column in columns.items():
        write_map(out_dir / name, {row[0]: row[column] for row in rows})
    return len(rows)


def setup(model_dir: Path, finetune_config: Path, exp_dir: Path, train_dirs: Sequence[Path], valid_dir: Path,
          valid_utts: int = 40) -> Path:
    """Write the training config and the data dirs; returns the config's path."""
    from espnet_dynprune.zoo.whisper_finetune import whisper_finetune_config

    model_config = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
    finetune = yaml.safe_load(finetune_config.read_text(encoding="utf-8")) or {}
    if not isinstance(finetune, dict):
        raise ValueError(f"{finetune_config} is not a YAML mapping")
    config = whisper_finetune_config(model_config, finetune, str(finetune_config))
    multilingual = config.get("token_type") == "whisper_multilingual"
    exp_dir.mkdir(parents=True, exist_ok=True)
    train = whisper_targets(train_dirs, exp_dir / "data" / "train", multilingual)
    valid = whisper_targets([valid_dir], exp_dir / "data" / "valid", multilingual, valid_utts)
    out = exp_dir / "train.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    logging.info(f"{exp_dir}: {train} training and {valid} validation utterances, {config['model']} model")
    return out


def main(argv: Optional[List[str]] = None) -> None:
    configure_logging()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="bin.whisper_convert's output")
    parser.add_argument("--finetune_config", type=Path, required=True, help="the experiment's fine-tuning YAML")
    parser.add_argument("--exp_dir", type=Path, required=True)
    parser.add_argument("--train_dirs", type=Path, nargs="+", required=True, help="dump dirs of the training data")
    parser.add_argument("--valid_dir", type=Path, required=True, help="dump dir of the validation data")
    parser.add_argument("--valid_utts", type=int, default=40, help="utterances of --valid_dir to validate on")
    args = parser.parse_args(argv)
    print(setup(args.model_dir, args.finetune_config, args.exp_dir, args.train_dirs, args.valid_dir,
                args.valid_utts))


if __name__ == "__main__":
    main()
