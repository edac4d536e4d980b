"""A tiny randomly initialised OWSM-style model and test set, for the decoding and FLOPs tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import yaml

from tests.builders.tiny_recipe import tiny_config, write_yaml

TOKENS = ["<blank>", "<unk>", "<na>", "<nospeech>", "<deu>", "<eng>", "<fra>", "<asr>", "<st_eng>",
          "<notimestamps>", "<0.00>", "<30.00>", *"abcde", "<space>", "<sos>", "<eos>", "<sop>"]


#: ``decoder_conf.layer_sizes`` of a statically pruned tiny decoder (4 heads of 8 dims, 64 FFN units).
PRUNED_DECODER = [dict(self_attn_qk=[8, 4], self_attn_vo=[8, 6], src_attn_qk=[8], src_attn_vo=[8], ffn_units=16),
                  dict(self_attn_qk=[], self_attn_vo=[], src_attn_qk=[8, 8], src_attn_vo=[2, 8], ffn_units=0)]


def write_tiny_model(directory: Path, dynprune: bool = True, seed: int = 0, **overrides) -> tuple[Path, Path]:
    """A randomly initialised 2-block, 32-dim OWSM-style model: (config.yaml, model.pth).

    ``overrides`` are deep-merged into the config (e.g. another decoder). The config is completed
    by ESPnet's own parser, as s2t_train would save it.
    """
    import torch
    from espnet2.tasks.s2t import S2TTask

    from espnet_dynprune.registration import register_s2t

    register_s2t()
    names = ({"encoder": "e_branchformer_dynprune", "decoder": "transformer_dynprune", "model": "dynprune",
              "encoder_conf": {"sparsity_target": 0.5}, "decoder_conf": {"sparsity_target": 0.5}}
             if dynprune else {})  # fmt: skip
    config = write_yaml(directory / "config.yaml", tiny_config(names, {
        "preprocessor_conf": {"speech_length": 2.0},
        "token_list": TOKENS, "token_type": "char", "bpemodel": None, "normalize": None,
    }, overrides))  # fmt: skip
    args = S2TTask.get_parser().parse_args(["--config", str(config)])
    config.write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    torch.manual_seed(seed)
    model, _ = S2TTask.build_model_from_file(config, None, "cpu")
    torch.save(model.state_dict(), directory / "model.pth")
    return config, directory / "model.pth"


def write_test_set(directory: Path, count: int = 5, task: str = "asr") -> Path:
    """``count`` short noise wavs with OWSM texts ``<fra><task><notimestamps> ...``."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    wavs, texts = [], []
    for i in range(count):
        wav = directory / f"u{i}.wav"
        soundfile.write(wav, 0.1 * rng.standard_normal(16000 + 800 * i), 16000)
        wavs.append(f"utt{i} {wav}\n")
        texts.append(f"utt{i} <fra><{task}><notimestamps> ab cd\n")
    (directory / "wav.scp").write_text("".join(wavs), encoding="utf-8")
    (directory / "text").write_text("".join(texts), encoding="utf-8")
    return directory


def noise_speeches(seconds: tuple = (0.7, 1.3)) -> list:
    """Quiet Gaussian noise waveforms (float32, 16 kHz) of ``seconds`` each, the same every call."""
    rng = np.random.default_rng(0)
    return [(0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32) for s in seconds]


def decode_argv(model_files: tuple[Path, Path], data_dir: Path, out: Path, *extra: str) -> list[str]:
    """``recipe.decode``'s command line for the tiny model: beam 2, short hypotheses."""
    config, model = model_files
    return ["--data_dir", str(data_dir), "--output_dir", str(out), "--s2t_train_config", str(config),
            "--s2t_model_file", str(model), "--beam_size", "2", "--maxlenratio", "0.5", *extra]
