"""CTranslate2 ``model.bin`` files built in code, and OpenAI Whisper state dicts in CTranslate2's names.

The writer follows the format as CTranslate2 documents and writes it (little-endian, strings with
a trailing NUL); the name map is the WhisperSpec one, written out here independently of the
converter so the test checks the converter against the format rather than against itself.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Dict, Mapping

import numpy as np
import torch

_CODES = {np.dtype("<f4"): 0, np.dtype("i1"): 1, np.dtype("<i2"): 2, np.dtype("<i4"): 3, np.dtype("<f2"): 4}


def _string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_model_bin(path: Path, variables: Mapping[str, np.ndarray], aliases: Mapping[str, str] = (),
                    spec: str = "WhisperSpec", version: int = 6) -> Path:
    out = [struct.pack("<I", version), _string(spec), struct.pack("<I", 3), struct.pack("<I", len(variables))]
    for name, array in variables.items():
        array = np.asarray(array, order="C")  # (ascontiguousarray would make a scalar 1-d)
        out += [_string(name), struct.pack("<B", array.ndim), *(struct.pack("<I", d) for d in array.shape)]
        out += [struct.pack("<B", _CODES[array.dtype]), struct.pack("<I", array.nbytes), array.tobytes()]
    aliases = dict(aliases)
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out += [_string(alias), _string(target)]
    path.write_bytes(b"".join(out))
    return path


def whisper_spec_variables(state: Dict[str, torch.Tensor], heads: int) -> Dict[str, np.ndarray]:
    """An OpenAI Whisper state dict as CTranslate2's WhisperSpec variables (float16)."""
    h = {k: v.detach().half().numpy() for k, v in state.items()}
    out: Dict[str, np.ndarray] = {}

    def norm(ct2: str, oa: str) -> None:
        out[f"{ct2}/gamma"], out[f"{ct2}/beta"] = h[f"{oa}.weight"], h[f"{oa}.bias"]

    def linear(ct2: str, oa: str) -> None:
        out[f"{ct2}/weight"], out[f"{ct2}/bias"] = h[f"{oa}.weight"], h[f"{oa}.bias"]

    for side in ("encoder", "decoder"):
        layers = len({k.split(".")[2] for k in h if k.startswith(f"{side}.blocks.")})
        for i in range(layers):
            ct2, oa = f"{side}/layer_{i}", f"{side}.blocks.{i}"
            att = f"{ct2}/self_attention"
            norm(f"{att}/layer_norm", f"{oa}.attn_ln")
            zero = np.zeros_like(h[f"{oa}.attn.query.bias"])
            out[f"{att}/linear_0/weight"] = np.concatenate([h[f"{oa}.attn.{p}.weight"] for p in ("query", "key", "value")])
            out[f"{att}/linear_0/bias"] = np.concatenate([h[f"{oa}.attn.query.bias"], zero, h[f"{oa}.attn.value.bias"]])
            linear(f"{att}/linear_1", f"{oa}.attn.out")
            if side == "decoder":
                cross = f"{ct2}/attention"
                norm(f"{cross}/layer_norm", f"{oa}.cross_attn_ln")
                linear(f"{cross}/linear_0", f"{oa}.cross_attn.query")
                out[f"{cross}/linear_1/weight"] = np.concatenate([h[f"{oa}.cross_attn.key.weight"], h[f"{oa}.cross_attn.value.weight"]])
                out[f"{cross}/linear_1/bias"] = np.concatenate([zero, h[f"{oa}.cross_attn.value.bias"]])
                linear(f"{cross}/linear_2", f"{oa}.cross_attn.out")
            norm(f"{ct2}/ffn/layer_norm", f"{oa}.mlp_ln")
            linear(f"{ct2}/ffn/linear_0", f"{oa}.mlp.0")
            linear(f"{ct2}/ffn/linear_1", f"{oa}.mlp.2")
    linear("encoder/conv1", "encoder.conv1")
    linear("encoder/conv2", "encoder.conv2")
    out["encoder/position_encodings/encodings"] = h["encoder.positional_embedding"]
    norm("encoder/layer_norm", "encoder.ln_post")
    out["decoder/embeddings/weight"] = h["decoder.token_embedding.weight"]
    out["decoder/position_encodings/encodings"] = h["decoder.positional_embedding"]
    norm("decoder/layer_norm", "decoder.ln")
    out["encoder/num_heads"] = np.array(heads, dtype="<i2")
    out["decoder/num_heads"] = np.array(heads, dtype="<i2")
    out["decoder/activation"] = np.array(3, dtype="i1")
    out["decoder/pre_norm"] = np.array(1, dtype="i1")
    out["decoder/alignment_heads"] = np.array(1, dtype="<i2")
    return out
