"""The S2T training config of a tiny OWSM-architecture model (E-Branchformer + Transformer).

Why a writer rather than a YAML file: the dynamic-pruning model reuses it by switching names
(``encoder: e_branchformer_dynprune``, ``decoder: transformer_dynprune``, ``model: dynprune``)
and adding keys (``model_extra={"sparsity_target": 0.5}``), and tests vary sizes and epochs.
Keys are those of ``espnet2.bin.s2t_train`` (``--print_config``); values follow the OWSM v3.1
configs scaled down, with the settings a mini-scale probe found to learn fastest on CPU: 40
mels at hop 320, no SpecAugment or dropout, Adam with warm-up, ``speech_length`` = longest
utterance, ``time_apply_prob: 1.0`` (the texts carry ``<notimestamps>``) and
``text_prev_apply_prob: 0.0`` (text.prev is ``<na>``).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import yaml

from espnet_dynprune.owsm.datadir import max_duration

PathLike = Union[str, Path]


def _merge(base: Dict[str, Any], extra: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Recursive dict update (extra wins); returns ``base``."""
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def make_s2t_config(
    *,
    speech_length: float,
    encoder: str = "e_branchformer",
    decoder: str = "transformer",
    model: Optional[str] = None,
    encoder_extra: Optional[Mapping[str, Any]] = None,
    decoder_extra: Optional[Mapping[str, Any]] = None,
    model_extra: Optional[Mapping[str, Any]] = None,
    output_size: int = 64,
    attention_heads: int = 4,
    linear_units: int = 256,
    encoder_blocks: int = 2,
    decoder_blocks: int = 2,
    n_mels: int = 40,
    hop_length: int = 320,
    max_epoch: int = 2,
    batch_size: int = 8,
    lr: float = 2e-3,
    warmup_steps: int = 30,
    ctc_weight: float = 0.3,
    lsm_weight: float = 0.1,
    dropout_rate: float = 0.0,
    speech_init_silence: float = 0.5,
    num_workers: int = 1,
    num_att_plot: int = 0,
    seed: int = 0,
    extra: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The S2T training config as a dict (the YAML keys of ``espnet2.bin.s2t_train``).

    ``model=None`` leaves ESPnet's default (``espnet``: ESPnetS2TModel). ``*_extra`` are merged
    into ``encoder_conf`` / ``decoder_conf`` / ``model_conf``; ``extra`` is deep-merged into the
    whole config last, so any key can be overridden. ``speech_length`` (seconds) must cover the
    longest utterance of every split, since S2TPreprocessor and Speech2Text trim to it.
    """
    if speech_length <= 0:
        raise ValueError(f"speech_length={speech_length} must be > 0 seconds")
    if output_size % attention_heads:
        raise ValueError(f"output_size={output_size} is not divisible by attention_heads={attention_heads}")
    config: Dict[str, Any] = {
        "preprocessor": "s2t",
        "preprocessor_conf": {
            "text_prev_name": "text_prev",
            "text_ctc_name": "text_ctc",
            "fs": 16000,
            "na_symbol": "<na>",
            "speech_length": float(speech_length),
            "speech_resolution": 0.02,
            "speech_init_silence": float(speech_init_silence),
            "text_prev_apply_prob": 0.0,
            "time_apply_prob": 1.0,
            "notime_symbol": "<notimestamps>",
            "first_time_symbol": "<0.00>",
            "last_time_symbol": "<30.00>",
        },
        "frontend": "default",
        "frontend_conf": {"fs": 16000, "n_fft": 512, "win_length": 400, "hop_length": hop_length, "n_mels": n_mels},
        "specaug": None,
        "encoder": encoder,
        "encoder_conf": {
            "output_size": output_size,
            "attention_heads": attention_heads,
            "attention_layer_type": "selfattn",
            "pos_enc_layer_type": "abs_pos",
            "rel_pos_type": "latest",
            "cgmlp_linear_units": linear_units,
            "cgmlp_conv_kernel": 31,
            "use_linear_after_conv": False,
            "gate_activation": "identity",
            "num_blocks": encoder_blocks,
            "dropout_rate": dropout_rate,
            "positional_dropout_rate": dropout_rate,
            "attention_dropout_rate": dropout_rate,
            "input_layer": "conv2d",
            "layer_drop_rate": 0.0,
            "linear_units": linear_units,
            "positionwise_layer_type": "linear",
            "use_ffn": True,
            "macaron_ffn": True,
            "merge_conv_kernel": 31,
        },
        "decoder": decoder,
        "decoder_conf": {
            "attention_heads": attention_heads,
            "linear_units": linear_units,
            "num_blocks": decoder_blocks,
            "dropout_rate": dropout_rate,
            "positional_dropout_rate": dropout_rate,
            "self_attention_dropout_rate": dropout_rate,
            "src_attention_dropout_rate": dropout_rate,
        },
        "model_conf": {
            "ctc_weight": ctc_weight,
            "lsm_weight": lsm_weight,
            "length_normalized_loss": False,
            "sym_na": "<na>",
        },
        "optim": "adam",
        "optim_conf": {"lr": lr, "betas": [0.9, 0.98], "eps": 1.0e-6, "weight_decay": 0.0},
        "scheduler": "warmuplr",
        "scheduler_conf": {"warmup_steps": warmup_steps},
        # unsorted = constant batch size in key-file order; train() shuffles that file.
        "batch_type": "unsorted",
        "batch_size": batch_size,
        "accum_grad": 1,
        "max_epoch": max_epoch,
        "best_model_criterion": [["valid", "acc", "max"]],
        "keep_nbest_models": 1,
        "num_workers": num_workers,
        "num_att_plot": num_att_plot,
        "log_interval": 10,
        "seed": seed,
    }
    if model is not None:
        config["model"] = model
    _merge(config["encoder_conf"], encoder_extra)
    _merge(config["decoder_conf"], decoder_extra)
    _merge(config["model_conf"], model_extra)
    return _merge(config, extra)


def write_s2t_config(path: PathLike, **kwargs: Any) -> Path:
    """Write :func:`make_s2t_config` (same keyword arguments) as YAML to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(make_s2t_config(**kwargs), sort_keys=False), encoding="utf-8")
    return path


def speech_length_for(corpus_dir: PathLike, splits: Sequence[str] = ("train", "dev", "test")) -> float:
    """Longest utterance over ``splits`` of a tiny corpus, rounded up to whole seconds."""
    data = Path(corpus_dir) / "data"
    present = [data / s for s in splits if (data / s / "wav.scp").exists()]
    if not present:
        raise FileNotFoundError(f"none of the splits {list(splits)} has a wav.scp under {data}")
    return float(math.ceil(max(max_duration(d) for d in present) - 1e-6))
