"""OWSM v3.1 architectures with random weights, stock and dynprune, for timing and FLOPs.

The released weights cannot be downloaded here, and timing does not need them:
the architectures are the project's drop-in configs ``conf/owsm_v3.1_ebf_{size}_dynprune.yaml``
(the released training configs with the dynprune names; shipped in the package as
``espnet_dynprune/conf``), and the stock model is the same config with ESPnet's own names
(:func:`espnet_dynprune.zoo.finetune_config.strip_pruning`). With 80 mels and a 50002-entry
vocabulary they give the released parameter counts. The token list follows OWSM's layout
(specials, 151 languages, ``<asr>``, 25 ``<st_xxx>``, ``<notimestamps>``, 1501 timestamps,
BPE pieces, ``<sos> <eos> <sop>``) with placeholder pieces. Both models are built by ESPnet's
``S2TTask`` from a config, as ``s2t_train`` would build them, and share every weight. Any
other dynprune S2T config file can be given instead of a size name. :func:`owsm_static` makes
the statically pruned shape of a dynprune model (preset masks at a sparsity, exported).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Union

import torch
import yaml

from espnet_dynprune.owsm.token_layout import owsm_special_symbols, owsm_token_list as layout_token_list
from espnet_dynprune.zoo.finetune_config import strip_pruning

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
VOCAB_SIZE = 50002
ST_TARGETS = ("ara cat ces cym deu eng est fas fra ind ita jpn lav mon nld por ron rus slv spa swe "
              "tam tur vie zho").split()
KNOWN_LANGUAGES = ("bul deu eng fra hun ita spa por nld pol rus zho jpn kor ara tur ces ron swe fin "
                   "ell dan slk slv hrv est lav lit").split()
NUM_LANGUAGES = 151


def owsm_sizes() -> Dict[str, Path]:
    """The released OWSM v3.1 sizes with a drop-in config: ``{"base": conf file, ...}``."""
    prefix, suffix = "owsm_v3.1_ebf_", "_dynprune.yaml"
    return {p.name[len(prefix):-len(suffix)]: p for p in sorted(CONF_DIR.glob(f"{prefix}*{suffix}"))}


def config_file(size: Union[str, Path]) -> Path:
    """The config of a size name (``base``, ``small``, ``1b``) or a YAML file given as such."""
    sizes = owsm_sizes()
    if str(size) in sizes:
        return sizes[str(size)]
    if str(size).endswith((".yaml", ".yml")) and Path(size).is_file():
        return Path(size)
    raise ValueError(f"unknown OWSM v3.1 size {str(size)!r}; choose from {sorted(sizes)} or give a config .yaml file")


def owsm_token_list() -> List[str]:
    """A 50002-entry token list in OWSM v3.1's order (placeholder BPE pieces).

    Languages beyond the common ones use ISO 639-3's local-use codes (qaa...).
    """
    local = [f"q{a}{b}" for a in "abcdefghijklmnopqrst" for b in "abcdefghijklmnopqrstuvwxyz"]
    languages = sorted(KNOWN_LANGUAGES + local[: NUM_LANGUAGES - len(KNOWN_LANGUAGES)])
    specials = owsm_special_symbols(languages, [f"st_{t}" for t in ST_TARGETS])
    pieces = VOCAB_SIZE - len(specials) - 5  # <blank> <unk> before, <sos> <eos> <sop> after
    return layout_token_list(specials + [f"\u2581p{i}" for i in range(pieces)])


def owsm_config(size: Union[str, Path], dynprune: bool, token_list: List[str]) -> Dict:
    """The S2T config of OWSM v3.1 ``size`` (or of a config file), dynprune or stock."""
    config = yaml.safe_load(config_file(size).read_text(encoding="utf-8"))
    if not dynprune:
        config = strip_pruning(config)
    config.update(token_list=token_list, token_type="bpe", bpemodel=None, normalize=None)
    return config


def build_owsm(
    size: Union[str, Path], dynprune: bool = False, seed: int = 0, layer_sizes: Optional[Dict[str, list]] = None
) -> torch.nn.Module:
    """An OWSM v3.1 ``size`` model with random weights (seeded), built by ESPnet's S2TTask;
    ``layer_sizes`` (part -> entries) builds a dynprune model on statically pruned layers."""
    from espnet2.tasks.s2t import S2TTask

    from espnet_dynprune.registration import register_s2t

    register_s2t()
    tokens = owsm_token_list()
    config = owsm_config(size, dynprune, tokens)
    for part, sizes in (layer_sizes or {}).items():
        config[f"{part}_conf"]["layer_sizes"] = sizes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        args = S2TTask.get_parser().parse_args(["--config", str(path)])
    torch.manual_seed(seed)
    return S2TTask.build_model(args).eval()


def owsm_pair(size: Union[str, Path], seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(stock, dynprune) OWSM v3.1 ``size`` models sharing every ESPnet weight."""
    stock = build_owsm(size, dynprune=False, seed=seed)
    dyn = build_owsm(size, dynprune=True, seed=seed)
    missing, unexpected = dyn.load_state_dict(stock.state_dict(), strict=False)
    if unexpected or any(".gate_predictor." not in f".{k}" for k in missing):
        raise RuntimeError(f"stock and dynprune state dicts differ: {missing} / {unexpected}")
    return stock, dyn


@torch.no_grad()
def owsm_static(size: Union[str, Path], dyn: torch.nn.Module, sparsity: float, seed: int = 0) -> torch.nn.Module:
    """``dyn`` (a dynprune OWSM ``size`` model) with its encoder and its decoder each statically
    pruned at ``sparsity`` of their prunable parameters: masks preset without training
    (:func:`~espnet_dynprune.analysis.preset_masks.preset_masks`), exported, and rebuilt as a dynprune
    model on those layers (new gate predictors; force the gates on to run it dense)."""
    from espnet_dynprune.analysis.preset_masks import preset_masks
    from espnet_dynprune.nets.decoder.transformer_prunable import TransformerPrunableDecoder, export_decoder
    from espnet_dynprune.nets.encoder.e_branchformer_prunable import EBranchformerPrunableEncoder, export_encoder

    stock = strip_pruning(owsm_config(size, True, list(dyn.token_list)))
    parts = {
        "encoder": (EBranchformerPrunableEncoder(dyn.frontend.output_size(), **stock["encoder_conf"]), export_encoder),
        "decoder": (TransformerPrunableDecoder(len(dyn.token_list), dyn.encoder.output_size(), **stock["decoder_conf"]),
                    export_decoder),
    }
    state = {k: v for k, v in dyn.state_dict().items() if ".gate_predictor." not in f".{k}"}
    exported = {}
    for name, (masked, export) in parts.items():
        masked.load_state_dict({k[len(name) + 1:]: v for k, v in state.items() if k.startswith(f"{name}.")}, strict=False)
        preset_masks(masked.eval(), sparsity, seed=seed)
        exported[name] = export(masked).eval()
    model = build_owsm(size, dynprune=True, seed=seed,
                       layer_sizes={n: [s.as_dict() for s in m.layer_sizes] for n, m in exported.items()})
    state = {k: v for k, v in state.items() if not k.startswith(("encoder.", "decoder."))}
    for name, module in exported.items():
        state.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(".gate_predictor." not in f".{k}" for k in missing):
        raise RuntimeError(f"the statically pruned model's state dict differs: {missing} / {unexpected}")
    return model.eval().to(next(dyn.parameters()).device)
