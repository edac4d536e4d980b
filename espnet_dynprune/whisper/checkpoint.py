"""Whisper weights from the formats users hold, as OpenAI's own checkpoint layout.

OpenAI's layout (``{"dims": ..., "model_state_dict": ...}``, parameter names of
``whisper.model.Whisper``) is what ESPnet's Whisper encoder and decoder are built from, so every
other format is converted into it: CTranslate2 / faster-whisper directories (``model.bin`` with
fused q/k/v), Hugging Face ``openai/whisper-*`` directories (``config.json`` and safetensors or
``pytorch_model.bin``) and OpenAI's ``.pt`` files. Weights are widened to float32 and nothing else changes:
the checks below refuse a file whose layout would need any other change (a key bias that is not
zero, an unknown activation, missing or left-over variables).

Pure PyTorch: reading a checkpoint needs neither ESPnet nor openai-whisper.
"""

from __future__ import annotations

import hashlib
import json
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


# ---------------------------------------------------------------- Hugging Face transformers
# config.json keys for ModelDimensions, and the settings OpenAI's architecture has.
_HF_DIMS = {"n_mels": "num_mel_bins", "n_audio_ctx": "max_source_positions", "n_audio_state": "d_model",
            "n_audio_head": "encoder_attention_heads", "n_audio_layer": "encoder_layers", "n_vocab": "vocab_size",
            "n_text_ctx": "max_target_positions", "n_text_state": "d_model",
            "n_text_head": "decoder_attention_heads", "n_text_layer": "decoder_layers"}
_HF_FIXED = {"activation_function": "gelu", "scale_embedding": False}
_HF_BLOCK = {"self_attn_layer_norm": "attn_ln", "encoder_attn_layer_norm": "cross_attn_ln", "fc1": "mlp.0",
             "fc2": "mlp.2", "final_layer_norm": "mlp_ln"}
_HF_ATTN = {"self_attn": "attn", "encoder_attn": "cross_attn"}
_HF_PROJ = {"q_proj": "query", "k_proj": "key", "v_proj": "value", "out_proj": "out"}
_HF_TOP = {"encoder.embed_positions.weight": "encoder.positional_embedding", "encoder.layer_norm": "encoder.ln_post",
           "decoder.embed_tokens.weight": "decoder.token_embedding.weight",
           "decoder.embed_positions.weight": "decoder.positional_embedding", "decoder.layer_norm": "decoder.ln"}


def _hf_tensors(path: Path) -> Dict[str, torch.Tensor]:
    """Every tensor of a transformers directory: its safetensors file(s), else ``pytorch_model.bin``."""
    shards = sorted(path.glob("*.safetensors"))
    if shards:
        try:
            from safetensors.torch import load_file
        except ImportError as exc:
            raise ImportError(f"{path}: reading safetensors needs the safetensors package") from exc
        return {k: v for shard in shards for k, v in load_file(str(shard)).items()}
    if (path / "pytorch_model.bin").is_file():
        return torch.load(path / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise ValueError(f"{path}: no *.safetensors and no pytorch_model.bin")


def _hf_name(name: str) -> str:
    """transformers' parameter name -> OpenAI's (KeyError: one OpenAI's Whisper has no place for)."""
    name = name.removeprefix("model.")
    for hf, oa in _HF_TOP.items():
        if name == hf or name.startswith(hf + "."):
            return oa + name[len(hf):]
    m = re.fullmatch(r"(encoder|decoder)\.layers\.(\d+)\.(.+)", name)
    if m:
        side, i, rest = m.groups()
        module, _, param = rest.rpartition(".")
        attn, _, proj = module.partition(".")
        if attn in _HF_ATTN and proj in _HF_PROJ:
            return f"{side}.blocks.{i}.{_HF_ATTN[attn]}.{_HF_PROJ[proj]}.{param}"
        if module in _HF_BLOCK:
            return f"{side}.blocks.{i}.{_HF_BLOCK[module]}.{param}"
    if re.fullmatch(r"encoder\.conv[12]\.(weight|bias)", name):
        return name
    raise KeyError(name)


def read_huggingface(path: Union[str, Path]) -> WhisperCheckpoint:
    """A transformers Whisper directory (``WhisperForConditionalGeneration`` or ``WhisperModel``)."""
    path = Path(path)
    config_file = path / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("model_type") != "whisper":
        raise ValueError(f"{config_file}: model_type {config.get('model_type')!r}, not 'whisper'")
    for key, value in _HF_FIXED.items():
        if config.get(key, value) != value:
            raise ValueError(f"{config_file}: {key}={config[key]!r}: OpenAI's Whisper has {value!r}")
    dims = {oa: int(config[hf]) for oa, hf in _HF_DIMS.items() if hf in _require(config, _HF_DIMS.values(),
                                                                                      str(config_file))}
    for ffn in ("encoder_ffn_dim", "decoder_ffn_dim"):
        if config.get(ffn, 4 * dims["n_audio_state"]) != 4 * dims["n_audio_state"]:
            raise ValueError(f"{config_file}: {ffn}={config[ffn]}: OpenAI's Whisper has 4 x d_model")
    state: Dict[str, torch.Tensor] = {}
    for name, tensor in _hf_tensors(path).items():
        if name == "proj_out.weight":  # tied to the token embedding, as in OpenAI's model
            continue
        try:
            state[_hf_name(name)] = tensor.float()
        except KeyError:
            raise ValueError(f"{path}: parameter {name!r} has no place in OpenAI's Whisper") from None
    return _complete(WhisperCheckpoint(dims, state), path)


def openai_names(dims: Dict[str, int]) -> set:
    """The parameter names of OpenAI's ``Whisper(dims)`` (its state dict, the tied projection aside)."""
    def linear(prefix: str, bias: bool = True) -> List[str]:
        return [f"{prefix}.weight"] + ([f"{prefix}.bias"] if bias else [])

    def attention(prefix: str) -> List[str]:
        return linear(f"{prefix}.query") + linear(f"{prefix}.key", bias=False) + linear(f"{prefix}.value") + \
            linear(f"{prefix}.out")

    names = linear("encoder.conv1") + linear("encoder.conv2") + linear("encoder.ln_post") + linear("decoder.ln")
    names += ["encoder.positional_embedding", "decoder.token_embedding.weight", "decoder.positional_embedding"]
    for side, layers in (("encoder", dims["n_audio_layer"]), ("decoder", dims["n_text_layer"])):
        for i in range(layers):
            block = f"{side}.blocks.{i}"
            names += attention(f"{block}.attn") + linear(f"{block}.attn_ln") + linear(f"{block}.mlp.0")
            names += linear(f"{block}.mlp.2") + linear(f"{block}.mlp_ln")
            if side == "decoder":
                names += attention(f"{block}.cross_attn") + linear(f"{block}.cross_attn_ln")
    return set(names)


def _complete(checkpoint: WhisperCheckpoint, where: Union[str, Path]) -> WhisperCheckpoint:
    """``checkpoint``, if it holds exactly the parameters OpenAI's ``Whisper(dims)`` has."""
    expected, found = openai_names(checkpoint.dims), set(checkpoint.state_dict)
    if expected != found:
        raise ValueError(f"{where}: missing {sorted(expected - found)[:5]}, unexpected {sorted(found - expected)[:5]} "
                         f"for OpenAI's Whisper of these dimensions")
    return checkpoint


def _require(mapping, keys: Iterable[str], what: str) -> Iterable[str]:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{what}: missing {missing}")
    return keys


def read_checkpoint(path: Union[str, Path]) -> WhisperCheckpoint:
    """Any supported format: a faster-whisper directory or ``model.bin``, a transformers directory,
    or an OpenAI ``.pt``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Whisper weights {path} not found")
    if (path.is_dir() and (path / "model.bin").is_file()) or path.name == "model.bin":
        return read_ctranslate2(path)
    if path.is_dir() and (path / "config.json").is_file():
        return read_huggingface(path)
    if path.is_file():
        return read_openai(path)
    raise ValueError(f"{path}: neither a faster-whisper directory (model.bin), a transformers directory "
                     f"(config.json) nor an OpenAI .pt file")
