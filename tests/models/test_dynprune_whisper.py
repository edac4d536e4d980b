"""model: dynprune on ESPnet's ASR task with Whisper: the encoder's gates read the language and task
of Whisper's prompt tokens, the sparsity loss joins ESPnet's attention loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.models.dynprune import DynPruneASRModel
from espnet_dynprune.models.export import build_model

GATES = {"gate_predictor": "context", "gate_context_size": 8, "sparsity_target": 0.5}


def dynprune_model(whisper_dir: Path) -> DynPruneASRModel:
    config = yaml.safe_load((whisper_dir / "config.yaml").read_text())
    config.update(encoder="whisper_dynprune", decoder="whisper_dynprune", model="dynprune")
    config["encoder_conf"].update(GATES)
    config["decoder_conf"].update(GATES)
    model = build_model(config, "asr")
    model.load_state_dict(torch.load(whisper_dir / "dense.pth", weights_only=True), strict=False)  # --init_param
    return model


def prompt_ids(*tokens: str) -> list[int]:
    from whisper.tokenizer import get_tokenizer

    return get_tokenizer(multilingual=True).tokenizer.convert_tokens_to_ids(list(tokens))


def batch(language: str, task: str) -> dict:
    """Targets as ESPnet's Whisper tokenizer makes them: the prompt (no start token), then the text."""
    torch.manual_seed(0)
    head = prompt_ids(language, task, "<|notimestamps|>")
    text = torch.tensor([head + [400, 401, 402], head + [403, 404, -1]])
    return {"speech": torch.randn(2, 8000), "speech_lengths": torch.tensor([8000, 6000]),
            "text": text, "text_lengths": torch.tensor([6, 5])}


def test_the_encoder_gates_read_whisper_s_prompt_and_the_sparsity_loss_is_added(whisper_dir: Path) -> None:
    from whisper.tokenizer import LANGUAGES

    model = dynprune_model(whisper_dir)
    assert isinstance(model, DynPruneASRModel)
    seen = []
    model.encoder.gate_predictor.register_forward_hook(lambda _m, args, _out: seen.append(args[2:]))
    loss, stats, _ = model(**batch("<|fr|>", "<|translate|>"))
    language, task = seen[0]
    assert language.tolist() == [list(LANGUAGES).index("fr")] * 2 and task.tolist() == [1, 1]
    assert stats["context_unknown"] == 0 and {"loss_att", "loss_sparsity", "enc_sparsity"} <= set(stats)
    assert loss.item() == pytest.approx(float(stats["loss_att"] + model.sparsity_loss_weight * stats["loss_sparsity"]))
    loss.backward()
    assert model.encoder.gate_predictor.language_embed.weight.grad is not None


def test_the_prompt_changes_the_gates_and_inference_names_it_by_its_tokens(whisper_dir: Path) -> None:
    model = dynprune_model(whisper_dir).eval()
    speech = batch("<|fr|>", "<|transcribe|>")
    margins = {}
    for language in ("<|fr|>", "<|ru|>"):
        with model.inference_context(language, "<|transcribe|>"):
            model.encode(speech["speech"], speech["speech_lengths"])
        margins[language] = model.encoder.gate_predictor.last_margins
    assert not torch.allclose(margins["<|fr|>"], margins["<|ru|>"])
    with pytest.raises(ValueError, match="unknown language symbol '<fra>'"):
        with model.inference_context("<fra>", "<|transcribe|>"):
            pass


def test_a_target_without_a_prompt_trains_with_the_not_known_context(whisper_dir: Path) -> None:
    """An English-only Whisper's targets start with <|notimestamps|>: counted, not guessed."""
    model = dynprune_model(whisper_dir)
    _, stats, _ = model(**batch("<|notimestamps|>", "<|notimestamps|>"))
    assert stats["context_unknown"] == 2
