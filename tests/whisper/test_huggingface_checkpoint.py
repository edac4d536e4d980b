"""transformers' Whisper directories (``openai/whisper-*`` on the Hub) read into OpenAI's layout: the
converted model computes what the transformers model computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from whisper.model import ModelDimensions, Whisper

from espnet_dynprune.whisper.checkpoint import openai_names, read_checkpoint, read_huggingface

transformers = pytest.importorskip("transformers")

CONFIG = dict(vocab_size=120, num_mel_bins=80, encoder_layers=2, decoder_layers=2, d_model=32,
              encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
              max_source_positions=30, max_target_positions=24, pad_token_id=119, bos_token_id=118,
              eos_token_id=119, decoder_start_token_id=117)


def _hf_model(tmp_path: Path, safe: bool = True, **changes) -> "transformers.WhisperForConditionalGeneration":
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**{**CONFIG, **changes})).eval()
    model.save_pretrained(tmp_path, safe_serialization=safe)
    return model


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "pytorch_model.bin"])
def test_the_converted_model_computes_what_transformers_computes(tmp_path: Path, safe: bool) -> None:
    hf = _hf_model(tmp_path, safe)
    checkpoint = read_checkpoint(tmp_path)
    assert checkpoint.dims == {"n_mels": 80, "n_audio_ctx": 30, "n_audio_state": 32, "n_audio_head": 4,
                               "n_audio_layer": 2, "n_vocab": 120, "n_text_ctx": 24, "n_text_state": 32,
                               "n_text_head": 4, "n_text_layer": 2}
    openai = Whisper(ModelDimensions(**checkpoint.dims)).eval()
    openai.load_state_dict(checkpoint.state_dict, strict=True)
    mel = torch.randn(1, 80, 60)  # 60 frames -> 30 encoder positions
    tokens = torch.tensor([[117, 5, 9, 33, 2]])
    with torch.no_grad():
        expected = hf(input_features=mel, decoder_input_ids=tokens).logits
        got = openai(mel, tokens)
    assert torch.allclose(got, expected, atol=1e-4), (got - expected).abs().max()


def test_what_openai_whisper_has_no_place_for_is_refused(tmp_path: Path) -> None:
    _hf_model(tmp_path, activation_function="relu")
    with pytest.raises(ValueError, match="activation_function='relu': OpenAI's Whisper has 'gelu'"):
        read_huggingface(tmp_path)
    _hf_model(tmp_path, encoder_ffn_dim=64)
    with pytest.raises(ValueError, match="encoder_ffn_dim=64: OpenAI's Whisper has 4 x d_model"):
        read_huggingface(tmp_path)


def test_a_missing_or_foreign_parameter_is_named(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    _hf_model(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    save_file({k: v for k, v in tensors.items() if k != "model.decoder.layers.1.fc2.bias"},
              str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"missing \['decoder.blocks.1.mlp.2.bias'\]"):
        read_huggingface(tmp_path)
    save_file({**tensors, "model.encoder.adapter.weight": torch.zeros(2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="'model.encoder.adapter.weight' has no place"):
        read_huggingface(tmp_path)


def test_another_model_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}), encoding="utf-8")
    with pytest.raises(ValueError, match="model_type 'wav2vec2', not 'whisper'"):
        read_checkpoint(tmp_path)


def test_openai_names_are_those_of_openai_whisper() -> None:
    dims = dict(n_mels=80, n_audio_ctx=30, n_audio_state=32, n_audio_head=4, n_audio_layer=2, n_vocab=120,
                n_text_ctx=24, n_text_state=32, n_text_head=4, n_text_layer=3)
    assert openai_names(dims) == set(Whisper(ModelDimensions(**dims)).state_dict())
