"""Wall-clock benchmark of statically pruned OWSM v3.1 encoders against the dense one.

The question it answers: does the exported (physically smaller) encoder get the speed its
GMAC promise, or do the odd shapes pruning leaves (heads of different widths, padded for the
attention products; skinny matrices) eat it? No trained model is needed: the OWSM size's
encoder (its ``encoder_conf`` from conf/, ESPnet's keys only) gets random weights (seeded),
:func:`~espnet_dynprune.analysis.preset_masks.preset_masks` sets its masks at each sparsity, and
:func:`~espnet_dynprune.nets.encoder.e_branchformer_prunable.export_encoder` makes the pruned encoder. The dense
reference is ESPnet's ``EBranchformerEncoder`` with the same weights.

All encoders run round-robin in one process on the same features (``frames`` 80-dim frames,
batch 1; 3000 = OWSM's 30 s), in eval under ``torch.inference_mode`` (warm-ups first, then
``repeats`` rounds; medians; spread = (max - min) / median), each call ended by a device
synchronisation on a GPU. GMAC are fvcore counts (``analysis.macs.count_macs``, which also
counts fused attention), with the pruned attention products at the widths the heads kept (the
padding to the widest head is reported apart, as ``pad_gmac``: it is overhead the time ratio has
to absorb). Each export is checked against its masked encoder.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import yaml
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.analysis.clock import Phases, now, round_robin
from espnet_dynprune.analysis.macs import count_macs
from espnet_dynprune.analysis.owsm_architecture import config_file
from espnet_dynprune.analysis.preset_masks import preset_masks
from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder, export_encoder
from espnet_dynprune.nets.layers.pruned_attention import PrunedMultiHeadedAttention
from espnet_dynprune.zoo.finetune_config import strip_pruning

DENSE = "dense (ESPnet)"
INPUT_SIZE = 80
TARGET_TIME_OVER_GMAC = 1.1  # (time / dense time) / (GMAC / dense GMAC) of every pruned encoder
TARGET_TRAINED = {"time_ratio": 0.5, "param_reduction": 0.7}  # a trained, exported encoder vs its dense one
Results = Dict[str, Dict[str, object]]


def encoder_conf(size: Union[str, Path]) -> Dict[str, object]:
    """ESPnet's ``e_branchformer`` keys of a size's (or config file's) ``encoder_conf``."""
    config = strip_pruning(yaml.safe_load(config_file(size).read_text(encoding="utf-8")))
    if config.get("encoder") != "e_branchformer":
        raise ValueError(f"{size}: static pruning needs an e_branchformer encoder, got {config.get('encoder')!r}")
    return dict(config["encoder_conf"])


class _Output(torch.nn.Module):
    """The encoder's output tensor only (fvcore traces tensors, not ``None``)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.encoder(feats, lengths)[0]


def gmac(encoder: torch.nn.Module, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[float, float]:
    """(GMAC, padding GMAC): fvcore's count with the pruned heads' attention products at the
    widths kept; the second is what padding the heads to the widest adds on top (it runs, and
    ``count_macs`` counts it, but it is overhead, not work the pruned model needs)."""
    padding = [0.0]

    def hook(module: PrunedMultiHeadedAttention, args, _out) -> None:
        batch, t1, t2 = (int(n) for n in (*args[0].shape[:2], args[1].shape[1]))  # traced sizes are tensors
        padding[0] += batch * t1 * t2 * (2 * module.h * module.width - sum(module.qk_dims) - sum(module.vo_dims))

    attention = [m for m in encoder.modules() if isinstance(m, PrunedMultiHeadedAttention)]
    handles = [m.register_forward_hook(hook) for m in attention]
    try:
        macs = count_macs(_Output(encoder), (feats, lengths))
    finally:
        for handle in handles:
            handle.remove()
    return (macs - padding[0]) / 1e9, padding[0] / 1e9


def file_megabytes(module: torch.nn.Module) -> float:
    """Size of ``torch.save(module.state_dict())``, what a model file of it holds."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "encoder.pth")
        torch.save(module.state_dict(), path)
        return os.path.getsize(path) / 1e6


def time_round_robin(encoders: Dict[str, torch.nn.Module], feats: torch.Tensor, lengths: torch.Tensor,
                     repeats: int, warmup: int, log: Callable[[str], None] = logging.info) -> Dict[str, Phases]:
    """Seconds per encoder call, all encoders in turn each round (the one timer of ``analysis.clock``)."""
    def run(name: str) -> Dict[str, float]:
        start = now(feats.device)
        encoders[name](feats, lengths)
        return {"time": now(feats.device) - start}

    with torch.inference_mode():
        return round_robin(list(encoders), run, repeats, warmup, log=log)


def bench_size(size: Union[str, Path], sparsities: Sequence[float], repeats: int = 3, warmup: int = 1,
               frames: int = 3000, seed: int = 0, device: str = "cpu",
               log: Callable[[str], None] = logging.info) -> Results:
    """Per configuration (dense, then ``pruned {s}`` per sparsity): sizes, GMAC, times and
    their ratios to dense; pruned ones also their realised sparsity and the export check."""
    feats = torch.randn(1, frames, INPUT_SIZE, generator=torch.Generator().manual_seed(seed)).to(device)
    return _bench_exports(str(size), *_dense_and_prunable(encoder_conf(size), seed), export_encoder, feats,
                          sparsities, repeats, warmup, seed, log)


def _dense_and_prunable(conf: Dict[str, object], seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """ESPnet's E-Branchformer and the prunable one, the same seeded random weights, in eval."""
    torch.manual_seed(seed)
    prunable = EBranchformerPrunableEncoder(INPUT_SIZE, **conf).eval()
    dense = EBranchformerEncoder(INPUT_SIZE, **conf).eval()
    dense.load_state_dict({k: v for k, v in prunable.state_dict().items() if not k.startswith("layer_masks.")})
    return dense, prunable


def bench_whisper(checkpoint: Union[str, Path], sparsities: Sequence[float], repeats: int = 3, warmup: int = 1,
                  seconds: float = 30.0, seed: int = 0, device: str = "cpu",
                  log: Callable[[str], None] = logging.info) -> Results:
    """:func:`bench_size` for a real Whisper encoder (``checkpoint``: an OpenAI-format ``.pt``):
    ESPnet's stock Whisper encoder (``whisper_local``: openai-whisper's blocks) against the
    ``whisper_prunable`` one with masks preset at each sparsity and exported (``whisper_pruned``),
    on ``seconds`` of random speech (30: what Whisper pads every input to)."""
    from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
    from espnet_dynprune.nets.encoder.whisper_prunable import WhisperPrunableEncoder, export_encoder as export_whisper

    speech = torch.randn(1, int(seconds * 16000), generator=torch.Generator().manual_seed(seed)).to(device)
    return _bench_exports(Path(checkpoint).stem, LocalWhisperEncoder(whisper_model=str(checkpoint)).eval(),
                          WhisperPrunableEncoder(whisper_model=str(checkpoint)).eval(), export_whisper, speech,
                          sparsities, repeats, warmup, seed, log)


def _bench_exports(
    label: str, dense: torch.nn.Module, prunable: torch.nn.Module, export: Callable, inputs: torch.Tensor,
    sparsities: Sequence[float], repeats: int, warmup: int, seed: int, log: Callable[[str], None],
) -> Results:  # fmt: skip
    """``dense`` and ``prunable``'s export at each sparsity (masks preset), checked against the
    masked encoder and timed side by side on ``inputs`` (one utterance, moved to its device); the
    masked encoder is dropped before the timing (the callers hold no reference to it)."""
    lengths = torch.full((1,), inputs.size(1), dtype=torch.long, device=inputs.device)
    prunable.to(inputs.device)
    encoders: Dict[str, torch.nn.Module] = {DENSE: dense.to(inputs.device)}
    results: Results = {DENSE: {}}
    for s in sparsities:
        name = f"pruned {s:g}"
        realised = preset_masks(prunable, s, seed=seed)
        pruned = export(prunable).eval()
        with torch.inference_mode():
            diff = (prunable(inputs, lengths)[0] - pruned(inputs, lengths)[0]).abs().max().item()
        encoders[name] = pruned
        results[name] = {"sparsity": s, "realised_sparsity": realised, "max_abs_diff_vs_masked": diff,
                         "layer_sizes": pruned.pruned_conf()["layer_sizes"]}
        log(f"{label}: {name}: realised sparsity {realised:.3f}, export vs masked max |diff| {diff:.2e}")
    del prunable
    times = time_round_robin(encoders, inputs, lengths, repeats, warmup, log=lambda m: log(f"{label}: {m}"))
    return measured(encoders, times, inputs, lengths, results)


def measured(encoders: Dict[str, torch.nn.Module], times: Dict[str, Phases], feats: torch.Tensor,
             lengths: torch.Tensor, results: Results) -> Results:
    """``results`` completed with sizes, GMAC, median times and the ratios to the first encoder."""
    for name, encoder in encoders.items():
        count, padding = gmac(encoder, feats, lengths)
        timed = times[name].summary()
        results.setdefault(name, {}).update(
            params_M=sum(p.numel() for p in encoder.parameters()) / 1e6, file_MB=file_megabytes(encoder),
            gmac=count, pad_gmac=padding, time_s=timed["total_s"], spread=timed["spread"],
            times_s=times[name].totals())
    base = results[next(iter(encoders))]
    for r in results.values():
        r["time_ratio"] = r["time_s"] / base["time_s"]
        r["gmac_ratio"] = r["gmac"] / base["gmac"]
        r["time_over_gmac"] = r["time_ratio"] / r["gmac_ratio"]
        r["param_reduction"] = 1.0 - r["params_M"] / base["params_M"]
    return results


def load_zoo_model(path: Union[str, Path]) -> torch.nn.Module:
    """The S2T model of a model-zoo dir (stock or pruned classes), loaded strictly, in eval."""
    from espnet_dynprune.models.export import build_s2t_model
    from espnet_dynprune.zoo.model_zoo import ModelZooDir

    zoo = ModelZooDir.load(path)
    model = build_s2t_model(zoo.load_config())
    model.load_state_dict(zoo.state_dict())
    return model.eval()


def bench_zoo_dirs(zoo_dirs: Sequence[Union[str, Path]], repeats: int = 3, warmup: int = 1, frames: int = 600,
                   seed: int = 0, device: str = "cpu", log: Callable[[str], None] = logging.info) -> Results:
    """Trained models instead of random masks: the encoders of model-zoo dirs (the first is the
    reference, e.g. the dense pretrained model; then exported ones), timed round-robin the same
    way on ``frames`` feature frames (600 = the stand-in's 6 s)."""
    dev = torch.device(device)
    encoders: Dict[str, torch.nn.Module] = {}
    input_size = None
    for path in zoo_dirs:
        model = load_zoo_model(path)
        encoders[str(path)] = model.encoder.to(dev)
        input_size = input_size or (model.frontend.output_size() if model.frontend is not None else INPUT_SIZE)
    feats = torch.randn(1, frames, input_size, generator=torch.Generator().manual_seed(seed)).to(dev)
    lengths = torch.full((1,), frames, dtype=torch.long, device=dev)
    times = time_round_robin(encoders, feats, lengths, repeats, warmup, log=log)
    return measured(encoders, times, feats, lengths, {})


def targets(results: Results) -> List[Dict[str, object]]:
    """The speed target per pruned encoder: its time ratio within 1.1x of its GMAC ratio."""
    return [{"target": f"time ratio / GMAC ratio, {name}", "limit": f"<= {TARGET_TIME_OVER_GMAC}",
             "value": r["time_over_gmac"], "met": r["time_over_gmac"] <= TARGET_TIME_OVER_GMAC}
            for name, r in results.items() if name != DENSE and r["sparsity"] > 0]


def trained_targets(results: Results) -> List[Dict[str, object]]:
    """The targets for trained models: encoder time <= 0.5x dense, >= 70% fewer parameters."""
    rows = []
    for name, r in list(results.items())[1:]:
        rows.append({"target": f"encoder time / dense, {name}", "limit": f"<= {TARGET_TRAINED['time_ratio']}",
                     "value": r["time_ratio"], "met": r["time_ratio"] <= TARGET_TRAINED["time_ratio"]})
        rows.append({"target": f"fewer encoder parameters, {name}", "limit": f">= {TARGET_TRAINED['param_reduction']}",
                     "value": r["param_reduction"], "met": r["param_reduction"] >= TARGET_TRAINED["param_reduction"]})
    return rows


def markdown(size: str, results: Results, checks: Optional[Sequence[Dict[str, object]]] = None) -> str:
    """The per-configuration table and the target check (default: :func:`targets`), as markdown."""
    lines = [f"### {size} encoder, static pruning",
             "| configuration | realised sparsity | params M | file MB | GMAC (+ head padding) | time s (spread) "
             "| time / dense | GMAC / dense | time ratio / GMAC ratio | param reduction | export max abs diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        realised = f"{r['realised_sparsity']:.3f}" if "realised_sparsity" in r else "-"
        diff = f"{r['max_abs_diff_vs_masked']:.1e}" if "max_abs_diff_vs_masked" in r else "-"
        lines.append(f"| {name} | {realised} | {r['params_M']:.2f} | {r['file_MB']:.1f} | {r['gmac']:.2f} "
                     f"(+{r['pad_gmac']:.2f}) | {r['time_s']:.3f} (±{r['spread'] / 2:.0%}) | {r['time_ratio']:.3f} "
                     f"| {r['gmac_ratio']:.3f} "
                     f"| {r['time_over_gmac']:.3f} | {r['param_reduction']:.1%} | {diff} |")
    lines += ["", "| target | limit | measured | met |", "|---|---|---|---|"]
    for t in targets(results) if checks is None else checks:
        lines.append(f"| {t['target']} | {t['limit']} | {t['value']:.3f} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines)
