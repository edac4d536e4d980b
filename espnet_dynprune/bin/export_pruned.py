"""``python -m espnet_dynprune.bin.export_pruned``: a distillation-pruned model as a smaller model-zoo dir.

    python -m espnet_dynprune.bin.export_pruned --s2t_train_config exp/prune/config.yaml \\
        --s2t_model_file exp/prune/latest.pth --output_dir exp/prune/zoo

Reads the ``model: distill_prune`` training run (its masks' inference values), removes what they
remove (``export_encoder`` / ``export_decoder``, beside the prunable encoder and decoder), checks that
each smaller part (encoder, decoder) computes what the masked one did, and writes the model-zoo layout ``--pretrained_model`` takes (``zoo.pack``), with
``export_report.json`` beside ``meta.yaml``. Prints parameters and file sizes before and after.
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
from espnet_dynprune.registration import register_s2t
from espnet_dynprune.zoo.pack import pack

TOLERANCE = 1e-4  # float32: the folded weights round differently from mask-times-activation


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--s2t_train_config", required=True, help="config.yaml of the distill_prune run")
    parser.add_argument("--s2t_model_file", required=True, help="its weights (*.pth state dict)")
    parser.add_argument("--output_dir", required=True, help="new or empty directory for the model-zoo layout")
    parser.add_argument("--half", type=str2bool, default=False, help="store weights as fp16")
    return parser


def export(s2t_train_config: str, s2t_model_file: str, output_dir: str, half: bool = False) -> dict:
    """Export and pack; returns the report (also written as ``export_report.json``)."""
    register_s2t()
    config = yaml.safe_load(Path(s2t_train_config).read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{s2t_train_config} is not a YAML mapping")
    state = read_state(s2t_model_file)
    new_config, new_state, report = export_model(config, state, s2t_train_config)
    if not report["max_abs_diff"] <= TOLERANCE:
        raise RuntimeError(f"an exported part differs from the masked one by {report['max_abs_diff']:.2e} "
                           f"(> {TOLERANCE}): please report this with {s2t_train_config}")
    name = Path(os.path.abspath(s2t_train_config)).parent.name
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / f"{name}_pruned"
        exp.mkdir()
        (exp / "config.yaml").write_text(yaml.safe_dump(new_config, sort_keys=False), encoding="utf-8")
        torch.save(new_state, exp / "model.pth")
        zoo = pack(exp / "config.yaml", exp / "model.pth", output_dir, half=half,
                   provenance=f"espnet_dynprune.bin.export_pruned of {s2t_train_config} + {s2t_model_file}")
    report.update(file_bytes_source=Path(s2t_model_file).stat().st_size, file_bytes_exported=zoo.model_file.stat().st_size)
    (zoo.root / "export_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
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
    report = export(**vars(args))
    print(summary(report))
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    main()
