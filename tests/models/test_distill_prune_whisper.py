"""model: distill_prune on ESPnet's ASR task with Whisper: label-free distillation of whisper_prunable
from the frozen stock Whisper encoder, and the export into whisper_pruned that ESPnet's ASR task loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.bin.export_pruned import export
from espnet_dynprune.models.distill_prune import DistillPruneASRModel
from espnet_dynprune.models.export import build_model
from tests.builders.tiny_whisper import TINY


def student_config(whisper_dir: Path, **model_conf) -> dict:
    config = yaml.safe_load((whisper_dir / "config.yaml").read_text())
    config["encoder"] = "whisper_prunable"
    config["model"] = "distill_prune"
    config["model_conf"].update(teacher_init=str(whisper_dir / "dense.pth"), sparsity_target=0.5, **model_conf)
    return config


def batch() -> dict:
    torch.manual_seed(0)
    return {"speech": torch.randn(2, 8000), "speech_lengths": torch.tensor([8000, 6000]),
            "text": torch.randint(0, 1000, (2, 5)), "text_lengths": torch.tensor([5, 3])}


def student(whisper_dir: Path, **model_conf) -> DistillPruneASRModel:
    model = build_model(student_config(whisper_dir, **model_conf), "asr")
    model.load_state_dict(torch.load(whisper_dir / "dense.pth", weights_only=True), strict=False)  # --init_param
    return model


def test_label_free_distillation_trains_the_encoder_s_masks_and_blocks_only(whisper_dir: Path) -> None:
    model = student(whisper_dir)
    assert isinstance(model, DistillPruneASRModel) and model.ctc is None  # ESPnet's ASR model at ctc_weight 0
    loss, stats, weight = model(**batch())
    assert {"loss_distill", "loss_lagrangian", "sparsity_expected", "sparsity_realised"} <= set(stats)
    assert "loss_att" not in stats and int(weight) == 2
    loss.backward()
    frozen = [*model.decoder.parameters(), *model.encoder.encoders.ln_post.parameters()]
    assert all(p.grad is None and not p.requires_grad for p in frozen)
    assert model.encoder.layer_masks[0].masks["attn_qk"].scaled_log_alpha.grad is not None
    assert model.encoder.encoders.blocks[1].mlp[0].weight.grad is not None


def test_a_fully_kept_student_equals_its_whisper_teacher(whisper_dir: Path) -> None:
    model = student(whisper_dir).eval()
    for masks in model.encoder.layer_masks:
        for mask in masks.masks.values():
            mask.set_log_alpha(10.0)
    _, stats, _ = model(**batch())
    assert stats["loss_distill"].item() == pytest.approx(0.0, abs=1e-5)
    teacher = model.teacher("encoder", torch.device("cpu"))
    assert type(teacher).__name__ == "LocalWhisperEncoder" and not any(p.requires_grad for p in teacher.parameters())


def test_whisper_s_residual_stream_is_compared_layer_normalised(whisper_dir: Path) -> None:
    """Only the direction of the last block's output reaches the final norm: 3x larger costs nothing."""
    model = student(whisper_dir, distill_layers=[TINY.n_audio_layer]).eval()
    for masks in model.encoder.layer_masks:
        for mask in masks.masks.values():
            mask.set_log_alpha(10.0)
    teacher = model.teacher("encoder", torch.device("cpu"))
    hook = teacher.encoders.blocks[-1].register_forward_hook(lambda _m, _args, out: 3.0 * out)
    try:
        _, stats, _ = model(**batch())
    finally:
        hook.remove()
    assert stats["loss_distill"].item() == pytest.approx(0.0, abs=1e-4)


def test_the_task_loss_is_espnet_s_asr_attention_loss(whisper_dir: Path) -> None:
    _, stats, _ = student(whisper_dir, task_loss_weight=0.5)(**batch())
    assert "loss_att" in stats and "loss_task" in stats


def test_the_export_is_a_smaller_whisper_espnet_s_asr_task_loads(whisper_dir: Path, tmp_path: Path) -> None:
    from espnet2.tasks.asr import ASRTask

    from espnet_dynprune.analysis.preset_masks import preset_masks

    model = student(whisper_dir)
    preset_masks(model.encoder, 0.6)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(student_config(whisper_dir)))
    torch.save(model.state_dict(), tmp_path / "run" / "latest.pth")
    report = export(str(tmp_path / "run" / "config.yaml"), str(tmp_path / "run" / "latest.pth"), str(tmp_path / "out"),
                    task="asr")
    assert report["parts"] == ["encoder"] and report["encoder_max_abs_diff"] <= 1e-4
    assert report["encoder_params_exported"] < 0.6 * report["encoder_params_dense"]
    config = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert (config["encoder"], config["model"]) == ("whisper_pruned", "espnet")
    assert set(config["encoder_conf"]) >= {"whisper_dims", "layer_sizes"} and "teacher_init" not in config["model_conf"]
    smaller, _ = ASRTask.build_model_from_file(tmp_path / "out" / "config.yaml", tmp_path / "out" / "model.pth")
    model.eval()
    with torch.no_grad():
        speech = batch()
        masked = model.encode(speech["speech"], speech["speech_lengths"])[0]
        assert (smaller.encode(speech["speech"], speech["speech_lengths"])[0] - masked).abs().max() <= 1e-4
