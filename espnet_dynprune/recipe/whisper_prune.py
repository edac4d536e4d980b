"""Recipe stage 10 for Whisper: set up static structured pruning of a converted model.

``python -m espnet_dynprune.recipe.whisper_prune --model_dir exp/whisper_tiny.en --prune_config
conf/static_prune_whisper.yaml --sparsity_target 0.7 --exp_dir exp/static_prune_tiny.en_0.7``

Writes ``EXP/train.yaml`` (:func:`~espnet_dynprune.zoo.whisper_prune.whisper_prune_config`: the
model's config with the pruned encoder and the distillation), ``EXP/dense.pth`` (the converted
model's ESPnet state dict, the teacher; written once) and the utterances ``asr_train`` iterates
over (``--train_shape_file`` / ``--valid_shape_file`` of its ``unsorted`` batches): ``EXP/train.scp``,
every utterance of ``--train_dirs`` whose audio is not already listed (the ASR and the ST entries of
a prompt share it: the distillation needs no labels, each recording once), and ``EXP/valid.scp``,
the first ``--valid_utts`` of ``--valid_dir`` taken the same way.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional, Sequence

import torch
import yaml

from espnet_dynprune.logs import configure_logging
from espnet_dynprune.owsm.datadir import read_map


def unique_recordings(data_dirs: Sequence[Path], limit: int = 0) -> List[str]:
    """``wav.scp`` lines of ``data_dirs`` (by utterance id), each recording once (the first ``limit``; 0: all)."""
    lines, seen = [], set()
    for data_dir in data_dirs:
        wavs = read_map(data_dir / "wav.scp")
        for utt in sorted(wavs):
            if wavs[utt] not in seen:
                seen.add(wavs[utt])
                lines.append(f"{utt} {wavs[utt]}\n")
    return lines[:limit] if limit > 0 else lines


def setup(model_dir: Path, prune_config: Path, sparsity_target: Optional[float], exp_dir: Path,
          train_dirs: Sequence[Path], valid_dir: Path, valid_utts: int = 40) -> Path:
    """Write the training config, the teacher and the utterance lists; returns the config's path."""
    from espnet_dynprune.models.export import build_model
    from espnet_dynprune.registration import register_asr
    from espnet_dynprune.zoo.whisper_prune import whisper_prune_config

    register_asr()
    model_config = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
    prune = yaml.safe_load(prune_config.read_text(encoding="utf-8")) or {}
    if not isinstance(prune, dict):
        raise ValueError(f"{prune_config} is not a YAML mapping")
    if sparsity_target is not None:
        prune.setdefault("model_conf", {})["sparsity_target"] = sparsity_target
    exp_dir.mkdir(parents=True, exist_ok=True)
    teacher = exp_dir / "dense.pth"
    if not teacher.is_file():
        partial = exp_dir / "dense.pth.partial"
        torch.save(build_model(model_config, "asr").state_dict(), partial)
        partial.replace(teacher)
    config = whisper_prune_config(model_config, prune, str(teacher.absolute()), str(prune_config))
    out = exp_dir / "train.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    train = unique_recordings(train_dirs)
    (exp_dir / "train.scp").write_text("".join(train), encoding="utf-8")
    (exp_dir / "valid.scp").write_text("".join(unique_recordings([valid_dir], valid_utts)), encoding="utf-8")
    logging.info(f"{exp_dir}: {len(train)} recordings to distil on, {config['model_conf']['sparsity_target']} "
                 f"sparsity target")
    return out


def main(argv: Optional[List[str]] = None) -> None:
    configure_logging()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", type=Path, required=True, help="bin.whisper_convert's output")
    parser.add_argument("--prune_config", type=Path, required=True, help="the experiment's pruning YAML")
    parser.add_argument("--sparsity_target", type=float, default=None, help="overrides the YAML's")
    parser.add_argument("--exp_dir", type=Path, required=True)
    parser.add_argument("--train_dirs", type=Path, nargs="+", required=True, help="dump dirs of the training audio")
    parser.add_argument("--valid_dir", type=Path, required=True, help="dump dir of the validation audio")
    parser.add_argument("--valid_utts", type=int, default=40, help="recordings of --valid_dir to validate on")
    args = parser.parse_args(argv)
    print(setup(args.model_dir, args.prune_config, args.sparsity_target, args.exp_dir, args.train_dirs,
                args.valid_dir, args.valid_utts))


if __name__ == "__main__":
    main()
