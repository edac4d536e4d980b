"""Whisper weights from the formats users hold, as OpenAI's own checkpoint layout.

OpenAI's layout (``{"dims": ..., "model_state_dict": ...}``, parameter names of
``whisper.model.Whisper``) is what ESPnet's Whisper encoder and decoder are built from, so every
other format is converted into it: CTranslate2 / faster-whisper directories (``model.bin`` with
fused q/k/v) and OpenAI's ``.pt`` files. Weights are widened to float32 and nothing else changes:
the checks below refuse a file whose layout would need any other change (a key bias that is not
zero, an unknown activation, missing or left-over variables).

Pure PyTorch: reading a checkpoint needs neither ESPnet nor openai-whisper.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple, Union

import torch

from espnet_dynprune.whisper.ctranslate2_format import ModelBin, read_model_bin

#: ``whisper.model.ModelDimensions`` fields, in order.
DIMS = (
    "n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
    "n_vocab", "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer",
)  # fmt: skip

# CTranslate2's WhisperSpec settings that OpenAI's architecture has (anything else is refused).
_CT2_GELU = 3
_CT2_FLAGS = {
    "decoder/activation": _CT2_GELU,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/alibi": 0,
    "decoder/alibi_use_positive_positions": 0,
    "decoder/scale_alibi": 0,
    "decoder/start_from_zero_embedding": 0,
}
# Decoding hints CTranslate2 stores beside the weights; OpenAI's code derives them itself.
_CT2_IGNORED = ("decoder/alignment_heads", "decoder/alignment_layer")


@dataclass(frozen=True)
class WhisperCheckpoint:
    """A Whisper model in OpenAI's layout: dimensions and float32 state dict."""

    dims: Dict[str, int]
    state_dict: Dict[str, torch.Tensor]

    def save(self, path: Union[str, Path]) -> str:
        """Write an OpenAI-format ``.pt`` (loadable with ``weights_only=True``); return its sha256."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"dims": dict(self.dims), "model_state_dict": self.state_dict}, path)
        return sha256_of(path)

    def num_parameters(self) -> int:
        """Parameters, counting the tied output projection once (as OpenAI's model does)."""
        return sum(t.numel() for name, t in self.state_dict.items() if name != "encoder.positional_embedding")


def sha256_of(path: Union[str, Path]) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- OpenAI .pt
def read_openai(path: Union[str, Path]) -> WhisperCheckpoint:
    """An OpenAI ``.pt`` (``whisper.load_model``'s files), loaded without unpickling code."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise ValueError(f"{path}: not a loadable OpenAI Whisper checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(blob, dict) or not {"dims", "model_state_dict"} <= set(blob):
        raise ValueError(f"{path}: an OpenAI Whisper checkpoint holds 'dims' and 'model_state_dict'")
    dims = {key: int(blob["dims"][key]) for key in _require(blob["dims"], DIMS, f"{path} dims")}
    state = {name: tensor.float() for name, tensor in blob["model_state_dict"].items()}
    return WhisperCheckpoint(dims, state)


# ---------------------------------------------------------------- CTranslate2 / faster-whisper
def read_ctranslate2(model: Union[str, Path, ModelBin]) -> WhisperCheckpoint:
    """A CTranslate2 WhisperSpec (a faster-whisper directory or its ``model.bin``) in OpenAI's layout."""
    if not isinstance(model, ModelBin):
        path = Path(model)
        model = read_model_bin(path / "model.bin" if path.is_dir() else path)
    if model.spec != "WhisperSpec":
        raise ValueError(f"model.bin holds a {model.spec}, not a WhisperSpec")
    unused = set(model.variables)

    def take(name: str) -> torch.Tensor:
        unused.discard(name)
        return model.get(name).float()

    for name, expected in _CT2_FLAGS.items():
        if name in model.variables:
            unused.discard(name)
            if int(model.variables[name]) != expected:
                raise ValueError(f"WhisperSpec {name}={int(model.variables[name])}: OpenAI's Whisper has {expected}")
    unused.difference_update(_CT2_IGNORED)
    unused.discard("decoder/projection/weight")  # an alias of the embeddings: the output projection is tied

    state: Dict[str, torch.Tensor] = {}
    for side in ("encoder", "decoder"):
        layers = _count_layers(model.variables, side)
        for i in range(layers):
            ct2, oa = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            _self_attention(state, take, f"{ct2}/self_attention", f"{oa}.attn", f"{oa}.attn_ln")
            if side == "decoder":
                _cross_attention(state, take, f"{ct2}/attention", f"{oa}.cross_attn", f"{oa}.cross_attn_ln")
            _norm(state, take, f"{ct2}/ffn/layer_norm", f"{oa}.mlp_ln")
            _linear(state, take, f"{ct2}/ffn/linear_0", f"{oa}.mlp.0")
            _linear(state, take, f"{ct2}/ffn/linear_1", f"{oa}.mlp.2")
    for conv in ("conv1", "conv2"):
        _linear(state, take, f"encoder/{conv}", f"encoder.{conv}")
    state["encoder.positional_embedding"] = take("encoder/position_encodings/encodings")
    _norm(state, take, "encoder/layer_norm", "encoder.ln_post")
    state["decoder.token_embedding.weight"] = take("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = take("decoder/position_encodings/encodings")
    _norm(state, take, "decoder/layer_norm", "decoder.ln")
    enc_heads, dec_heads = int(take("encoder/num_heads")), int(take("decoder/num_heads"))
    if unused:
        raise ValueError(f"WhisperSpec variables this converter does not know: {sorted(unused)[:5]}")
    dims = {
        "n_mels": state["encoder.conv1.weight"].shape[1],
        "n_audio_ctx": state["encoder.positional_embedding"].shape[0],
        "n_audio_state": state["encoder.positional_embedding"].shape[1],
        "n_audio_head": enc_heads,
        "n_audio_layer": _count_layers(model.variables, "encoder"),
        "n_vocab": state["decoder.token_embedding.weight"].shape[0],
        "n_text_ctx": state["decoder.positional_embedding"].shape[0],
        "n_text_state": state["decoder.positional_embedding"].shape[1],
        "n_text_head": dec_heads,
        "n_text_layer": _count_layers(model.variables, "decoder"),
    }
    return WhisperCheckpoint(dims, state)


def _count_layers(names: Iterable[str], side: str) -> int:
    found = {int(m.group(1)) for n in names if (m := re.match(rf"{side}/layer_(\d+)/", n))}
    if found != set(range(len(found))):
        raise ValueError(f"WhisperSpec {side} layers are not numbered 0..N-1: {sorted(found)}")
    return len(found)


def _linear(state: Dict[str, torch.Tensor], take, ct2: str, oa: str) -> None:
    state[f"{oa}.weight"], state[f"{oa}.bias"] = take(f"{ct2}/weight"), take(f"{ct2}/bias")


def _norm(state: Dict[str, torch.Tensor], take, ct2: str, oa: str) -> None:
    state[f"{oa}.weight"], state[f"{oa}.bias"] = take(f"{ct2}/gamma"), take(f"{ct2}/beta")


def _split(take, ct2: str, parts: int) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    weight, bias = take(f"{ct2}/weight"), take(f"{ct2}/bias")
    if weight.shape[0] % parts:
        raise ValueError(f"WhisperSpec {ct2}/weight of shape {tuple(weight.shape)} does not split into {parts}")
    return list(weight.chunk(parts)), list(bias.chunk(parts))


def _key(state: Dict[str, torch.Tensor], oa: str, weight: torch.Tensor, bias: torch.Tensor, ct2: str) -> None:
    # OpenAI's key projection has no bias; CTranslate2 stores zeros in the fused one
    if torch.count_nonzero(bias):
        raise ValueError(f"WhisperSpec {ct2}: the key bias is not zero, OpenAI's Whisper has none")
    state[f"{oa}.key.weight"] = weight


def _self_attention(state, take, ct2: str, oa: str, ln: str) -> None:
    _norm(state, take, f"{ct2}/layer_norm", ln)
    (q, k, v), (qb, kb, vb) = _split(take, f"{ct2}/linear_0", 3)
    state[f"{oa}.query.weight"], state[f"{oa}.query.bias"] = q, qb
    _key(state, oa, k, kb, f"{ct2}/linear_0")
    state[f"{oa}.value.weight"], state[f"{oa}.value.bias"] = v, vb
    _linear(state, take, f"{ct2}/linear_1", f"{oa}.out")


def _cross_attention(state, take, ct2: str, oa: str, ln: str) -> None:
    _norm(state, take, f"{ct2}/layer_norm", ln)
    _linear(state, take, f"{ct2}/linear_0", f"{oa}.query")
    (k, v), (kb, vb) = _split(take, f"{ct2}/linear_1", 2)
    _key(state, oa, k, kb, f"{ct2}/linear_1")
    state[f"{oa}.value.weight"], state[f"{oa}.value.bias"] = v, vb
    _linear(state, take, f"{ct2}/linear_2", f"{oa}.out")


def _require(mapping, keys: Iterable[str], what: str) -> Iterable[str]:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{what}: missing {missing}")
    return keys


def read_checkpoint(path: Union[str, Path]) -> WhisperCheckpoint:
    """Any supported format: a faster-whisper directory or ``model.bin``, or an OpenAI ``.pt``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Whisper weights {path} not found")
    if (path.is_dir() and (path / "model.bin").is_file()) or path.name == "model.bin":
        return read_ctranslate2(path)
    if path.is_file():
        return read_openai(path)
    raise ValueError(f"{path}: neither a faster-whisper directory (model.bin) nor an OpenAI .pt file")
