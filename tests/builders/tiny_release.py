"""A tiny stock OWSM-architecture experiment as ``s2t_train`` leaves it (random weights).

Built the way ESPnet builds it: the config goes through ``S2TTask.get_parser`` and
``S2TTask.build_model`` (which turns ``token_list`` into an inline list), and
``config.yaml`` is ``vars(args)``, as ``s2t_train`` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from espnet_dynprune.zoo.token_list import train_token_list
from tests.builders.tiny_recipe import tiny_config

N_MELS = 20
#: A fine-tuning config with keys of every kind: pruning, per-part overrides, preprocessing and training.
FINETUNE = {
    "prune": "both",
    "prune_conf": {"sparsity_target": 0.5, "gate_predictor": "context", "sparsity_loss_weight": 2.0},
    "encoder_conf": {"sparsity_target": 0.3, "gumbel_anneal_steps": 100},
    "preprocessor_conf": {"time_apply_prob": 1.0},
    "optim": "adamw",
    "optim_conf": {"lr": 1.0e-4},
    "max_epoch": 3,
}
LINES = [
    "<fra><asr><notimestamps> le parlement vote la loi aujourd'hui",
    "<deu><asr><notimestamps> das parlament stimmt heute über das gesetz ab",
    "<deu><st_eng><notimestamps> the parliament votes on the law today",
    "<fra><st_eng><notimestamps> the commission presents the report",
] * 10


@dataclass
class Release:
    """Where the experiment's files are."""

    config: Path
    model_file: Path
    stats_file: Path
    bpemodel: Path
    token_list: Path


def write_stats(path: Path, dim: int = N_MELS, seed: int = 0) -> Path:
    """A ``feats_stats.npz`` as collect_stats writes it (count, sum, sum_square)."""
    rng = np.random.default_rng(seed)
    count, mean, var = 1000.0, rng.normal(size=dim), rng.uniform(0.5, 2.0, size=dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, count=np.array(count), sum=mean * count, sum_square=(var + mean**2) * count)
    return path


def make_release(root: Path, seed: int = 0) -> Release:
    """Token list, stats, ``exp/s2t_train_tiny/{config.yaml,valid.acc.ave.pth}`` under ``root``."""
    from espnet2.tasks.s2t import S2TTask

    tokens = train_token_list(LINES, root / "data/token_list/bpe_unigram30", langs=["deu", "eng", "fra"], num_pieces=30)
    stats = write_stats(root / "exp/s2t_stats_raw_bpe30/train/feats_stats.npz")
    config = tiny_config({
        "preprocessor_conf": {"speech_length": 2.0}, "frontend_conf": {"n_mels": N_MELS},
        "encoder_conf": {"output_size": 16, "attention_heads": 2, "linear_units": 32, "cgmlp_linear_units": 32},
        "decoder_conf": {"attention_heads": 2, "linear_units": 32},
        "token_type": "bpe", "token_list": str(tokens.tokens), "bpemodel": str(tokens.bpemodel),
        "normalize": "global_mvn", "normalize_conf": {"stats_file": str(stats)},
        "train_data_path_and_name_and_type": [["dump/raw/train/wav.scp", "speech", "sound"]],
    })  # fmt: skip
    exp = root / "exp/s2t_train_tiny"
    exp.mkdir(parents=True, exist_ok=True)
    source = exp / "source.yaml"
    source.write_text(yaml.safe_dump(config), encoding="utf-8")
    args = S2TTask.get_parser().parse_args(["--config", str(source)])
    torch.manual_seed(seed)
    model = S2TTask.build_model(args)
    with torch.no_grad():  # non-trivial norms and biases, so a fp16 round trip is visible
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args), sort_keys=False), encoding="utf-8")
    torch.save(model.state_dict(), exp / "valid.acc.ave.pth")
    return Release(exp / "config.yaml", exp / "valid.acc.ave.pth", stats, tokens.bpemodel, tokens.tokens)
