"""OWSM v3.1 architectures with random weights, stock and dynprune, for timing and FLOPs.

The released weights cannot be downloaded here, and timing does not need them:
the sizes below (shared notes, confirmed by exact parameter counts with 80 mels
and a 50002-entry vocabulary) give the real compute. The token list follows
OWSM's layout (specials, 151 languages, ``<asr>``, 25 ``<st_xxx>``,
``<notimestamps>``, 1501 timestamps, BPE pieces, ``<sos> <eos> <sop>``) with
placeholder pieces. Both models are built by ESPnet's ``S2TTask`` from a config,
as ``s2t_train`` would build them, and share every weight.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import torch
import yaml

from espnet_dynprune.data.s2t_config import make_s2t_config

VOCAB_SIZE = 50002
ST_TARGETS = ("ara cat ces cym deu eng est fas fra ind ita jpn lav mon nld por ron rus slv spa swe "
              "tam tur vie zho").split()
KNOWN_LANGUAGES = ("bul deu eng fra hun ita spa por nld pol rus zho jpn kor ara tur ces ron swe fin "
                   "ell dan slk slv hrv est lav lit").split()
NUM_LANGUAGES = 151


@dataclass(frozen=True)
class OwsmSize:
    output_size: int
    attention_heads: int
    linear_units: int
    num_blocks: int


OWSM_V31 = {
    "base": OwsmSize(384, 6, 1536, 6),
    "small": OwsmSize(768, 12, 3072, 9),
    "1b": OwsmSize(1024, 16, 4096, 18),
}


def owsm_token_list() -> List[str]:
    """A 50002-entry token list in OWSM v3.1's order (placeholder BPE pieces).

    Languages beyond the common ones use ISO 639-3's local-use codes (qaa...).
    """
    local = [f"q{a}{b}" for a in "abcdefghijklmnopqrst" for b in "abcdefghijklmnopqrstuvwxyz"]
    languages = KNOWN_LANGUAGES + local[: NUM_LANGUAGES - len(KNOWN_LANGUAGES)]
    tokens = ["<blank>", "<unk>", "<na>", "<nospeech>"]
    tokens += [f"<{lang}>" for lang in sorted(languages)] + ["<asr>"]
    tokens += [f"<st_{t}>" for t in ST_TARGETS] + ["<notimestamps>"]
    tokens += [f"<{i * 0.02:.2f}>" for i in range(1501)]
    pieces = VOCAB_SIZE - len(tokens) - 3
    tokens += [f"\u2581p{i}" for i in range(pieces)] + ["<sos>", "<eos>", "<sop>"]
    return tokens


def owsm_config(size: str, dynprune: bool, token_list: List[str]) -> Dict:
    """The S2T config of OWSM v3.1 ``size`` (``base``, ``small``, ``1b``), stock or dynprune."""
    if size not in OWSM_V31:
        raise ValueError(f"unknown OWSM v3.1 size {size!r}; choose from {sorted(OWSM_V31)}")
    s = OWSM_V31[size]
    names = {}
    if dynprune:
        names = dict(encoder="e_branchformer_dynprune", decoder="transformer_dynprune", model="dynprune")
    return make_s2t_config(
        speech_length=30.0, output_size=s.output_size, attention_heads=s.attention_heads,
        linear_units=s.linear_units, encoder_blocks=s.num_blocks, decoder_blocks=s.num_blocks,
        n_mels=80, hop_length=160, **names,
        extra={"token_list": token_list, "token_type": "bpe", "bpemodel": None, "normalize": None},
    )


def build_owsm(size: str, dynprune: bool = False, seed: int = 0) -> torch.nn.Module:
    """An OWSM v3.1 ``size`` model with random weights (seeded), built by ESPnet's S2TTask."""
    from espnet2.tasks.s2t import S2TTask

    from espnet_dynprune.registration import register_s2t

    register_s2t()
    tokens = owsm_token_list()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(owsm_config(size, dynprune, tokens)), encoding="utf-8")
        args = S2TTask.get_parser().parse_args(["--config", str(path)])
    torch.manual_seed(seed)
    return S2TTask.build_model(args).eval()


def owsm_pair(size: str, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(stock, dynprune) OWSM v3.1 ``size`` models sharing every ESPnet weight."""
    stock = build_owsm(size, dynprune=False, seed=seed)
    dyn = build_owsm(size, dynprune=True, seed=seed)
    missing, unexpected = dyn.load_state_dict(stock.state_dict(), strict=False)
    if unexpected or any(".gate_predictor." not in f".{k}" for k in missing):
        raise RuntimeError(f"stock and dynprune state dicts differ: {missing} / {unexpected}")
    return stock, dyn
