"""``python -m espnet_dynprune.bin.export_pruned``: a distillation-pruned model as a smaller model-zoo dir.

    python -m espnet_dynprune.bin.export_pruned --s2t_train_config exp/prune/config.yaml \\
        --s2t_model_file exp/prune/latest.pth --output_dir exp/prune/zoo
    python -m espnet_dynprune.bin.export_pruned --asr_train_config exp/prune/config.yaml \\
        --asr_model_file exp/prune/latest.pth --output_dir exp/prune/pruned     (ESPnet's ASR task: Whisper)

Reads the ``model: distill_prune`` training run (its masks' inference values), removes what they
remove (``export_encoder`` / ``export_decoder``, beside the prunable encoder and decoder), checks that
each smaller part (encoder, decoder) computes what the masked one did, and writes, for an S2T run,
the model-zoo layout ``--pretrained_model`` takes (``zoo.pack``), with ``export_report.json`` beside
``meta.yaml``; for an ASR run, ``config.yaml`` and ``model.pth`` as ``asr_inference`` reads them
(``--asr_train_config``, ``--asr_model_file``), with ``export_report.json``. Prints parameters and
file sizes before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import List, Optional

import torch
import yaml
from espnet2.utils.types import str2bool

from espnet_dynprune.logs import configure_logging
from espnet_dynprune.models.export import export_model
from espnet_dynprune.nets.checkpoint import read_state
from espnet_dynprune.registration import register_all
from espnet_dynprune.zoo.pack import pack

TOLERANCE = 1e-4  # float32: the folded weights round differently from mask-times-activation


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    config = parser.add_mutually_exclusive_group(required=True)
    config.add_argument("--s2t_train_config", help="config.yaml of the distill_prune run (S2T task)")
    config.add_argument("--asr_train_config", help="config.yaml of the distill_prune run (ASR task)")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--s2t_model_file", help="its weights (*.pth state dict)")
    model.add_argument("--asr_model_file", help="its weights (*.pth state dict)")
    parser.add_argument("--output_dir", required=True, help="new or empty directory for the model-zoo layout")
    parser.add_argument("--half", type=str2bool, default=False, help="store weights as fp16")
    return parser


def _write_run(directory: Path, config: dict, state: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    torch.save(state, directory / "model.pth")


def export(train_config: str, model_file: str, output_dir: str, half: bool = False, task: str = "s2t") -> dict:
    """Export and write (S2T: a model-zoo dir; ASR: config.yaml + model.pth); returns the report
    (also written as ``export_report.json``)."""
    register_all()
    config = yaml.safe_load(Path(train_config).read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{train_config} is not a YAML mapping")
    state = read_state(model_file)
    new_config, new_state, report = export_model(config, state, train_config, task)
    if not report["max_abs_diff"] <= TOLERANCE:
        raise RuntimeError(f"an exported part differs from the masked one by {report['max_abs_diff']:.2e} "
                           f"(> {TOLERANCE}): please report this with {train_config}")
    if task == "asr":
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        if half:
            new_state = {k: v.half() if v.is_floating_point() else v for k, v in new_state.items()}
        _write_run(out, new_config, new_state)
        written = out / "model.pth"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            exp = Path(tmp) / f"{Path(os.path.abspath(train_config)).parent.name}_pruned"
            _write_run(exp, new_config, new_state)
            zoo = pack(exp / "config.yaml", exp / "model.pth", output_dir, half=half,
                       provenance=f"espnet_dynprune.bin.export_pruned of {train_config} + {model_file}")
        out, written = zoo.root, zoo.model_file
    report.update(file_bytes_source=Path(model_file).stat().st_size, file_bytes_exported=written.stat().st_size)
    (out / "export_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def summary(report: dict) -> str:
    def line(what: str, before: float, after: float, unit: str = "") -> str:
        return f"{what:<28} {before:>14,.0f}{unit} -> {after:>14,.0f}{unit}  ({1 - after / before:.1%} fewer)"

    lines = [line("parameters (model)", report["params_dense"], report["params_exported"])]
    for part in report["parts"]:
        lines += [
            line(f"parameters ({part})", report[f"{part}_params_dense"], report[f"{part}_params_exported"]),
            line(f"prunable {part} parameters", report[f"{part}_prunable_dense"], report[f"{part}_prunable_kept"]),
        ]
    lines.append(line("model file bytes", report["file_bytes_source"], report["file_bytes_exported"]))
    lines += [f"max |masked - exported| {part} output: {report[f'{part}_max_abs_diff']:.2e}" for part in report["parts"]]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    configure_logging()
    args = get_parser().parse_args(argv)
    task = "s2t" if args.s2t_train_config else "asr"
    train_config, model_file = getattr(args, f"{task}_train_config"), getattr(args, f"{task}_model_file")
    if train_config is None or model_file is None:
        raise SystemExit(f"--{task}_train_config goes with --{task}_model_file")
    report = export(train_config, model_file, args.output_dir, args.half, task)
    print(summary(report))
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    main()
