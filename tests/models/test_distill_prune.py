"""model: distill_prune, built by ESPnet's S2TTask: the frozen teacher read from teacher_init, the
label-free loss (distillation + Lagrangian), the optional task loss, the statistics it logs, and
its configuration errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from tests.builders.tiny_s2t import batch
from tests.builders.tiny_static import build_s2t, dense_model_file, student


@pytest.fixture
def teacher_file(tmp_path: Path) -> Path:
    return dense_model_file(tmp_path / "dense.pth")


def test_label_free_loss_trains_masks_and_encoder_only(teacher_file):
    model = student(teacher_file, sparsity_target=0.5)
    loss, stats, weight = model(**batch())
    for key in ("loss_distill", "loss_lagrangian", "sparsity_expected", "sparsity_realised", "sparsity_target",
                "lambda1", "lambda2"):
        assert key in stats
    assert "loss_att" not in stats and int(weight) == 2
    loss.backward()
    frozen = [*model.decoder.parameters(), *model.ctc.parameters(), *model.encoder.after_norm.parameters()]
    assert all(p.grad is None and not p.requires_grad for p in frozen)
    assert model.encoder.layer_masks[0].masks["attn_qk"].scaled_log_alpha.grad is not None
    assert model.encoder.encoders[0].attn.linear_q.weight.grad is not None
    assert model.sparsity.scaled_lambdas.grad is not None


def test_the_teacher_is_the_frozen_unpruned_encoder_and_is_not_saved(teacher_file):
    model = student(teacher_file)
    model(**batch())
    teacher = model.teacher("encoder", torch.device("cpu"))
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    dense = torch.load(teacher_file, weights_only=True)
    assert torch.equal(teacher.encoders[1].cgmlp.channel_proj1[0].weight, dense["encoder.encoders.1.cgmlp.channel_proj1.0.weight"])
    assert not any("teacher" in k for k in model.state_dict())
    assert all(not n.startswith("_teacher") for n, _ in model.named_modules())
    assert "decoder" not in model._teachers  # an unpruned decoder has no teacher


def test_a_fully_kept_student_equals_its_teacher(teacher_file):
    model = student(teacher_file).eval()
    for layer_masks in model.encoder.layer_masks:
        for mask in layer_masks.masks.values():
            mask.set_log_alpha(10.0)
    _, stats, _ = model(**batch())
    assert stats["loss_distill"].item() == pytest.approx(0.0, abs=1e-5)
    assert stats["sparsity_realised"].item() == pytest.approx(0.0)


def test_task_loss_adds_espnets_ctc_and_attention_loss(teacher_file):
    model = student(teacher_file, task_loss_weight=0.5)
    loss, stats, _ = model(**batch())
    assert {"loss_task", "loss_att", "loss_ctc", "acc"} <= set(stats)
    assert loss.item() == pytest.approx((stats["loss_distill"] + stats["loss_lagrangian"] + 0.5 * stats["loss_task"]).item(), rel=1e-5)
    loss.backward()
    assert model.decoder.output_layer.weight.grad is not None


def test_the_warm_up_follows_optimiser_updates(teacher_file):
    model = student(teacher_file, sparsity_target=0.6, sparsity_warmup_steps=4)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    targets = []
    for _ in range(3):
        optimiser.zero_grad()
        loss, stats, _ = model(**batch())
        loss.backward()
        optimiser.step()
        targets.append(round(stats["sparsity_target"].item(), 3))
    assert targets == [0.0, 0.15, 0.3] and model.sparsity.step == 3


def test_overshooting_the_target_is_reported_once(teacher_file, caplog):
    model = student(teacher_file, sparsity_target=0.2)
    for layer_masks in model.encoder.layer_masks:
        for mask in layer_masks.masks.values():
            mask.set_log_alpha(-3.0)  # most units expected removed: far past 0.2
    with caplog.at_level(logging.WARNING):
        model(**batch())
        model(**batch())
    assert caplog.text.count("overshoots the target 0.200") == 1


@pytest.mark.parametrize("conf,error,match", [
    ({"sparsity_target": 1.0}, ValueError, "model_conf sparsity_target must be in"),
    ({"distill_layers": [0, 4]}, ValueError, r"distill_layers \[0, 4\] are not encoder layers \(1 ... 3\)"),
    ({"task_loss_weight": -1.0}, ValueError, "task_loss_weight"),
    ({"distill_layers": [1, 2]}, ValueError, r"leave out the last layer \(3\).*above 2 would learn nothing"),
    ({"teacher_init": "/no/such/dense.pth"}, FileNotFoundError, "teacher_init: /no/such/dense.pth"),
])  # fmt: skip
def test_bad_model_conf_is_named(conf, error, match):
    with pytest.raises(error, match=match):
        build_s2t("distill_prune", "e_branchformer_prunable", conf)


def test_an_encoder_without_masks_is_refused():
    with pytest.raises(ValueError, match="needs encoder: e_branchformer_prunable or whisper_prunable and/or decoder: "
                                         "transformer_prunable, got EBranchformerEncoder and TransformerDecoder"):
        build_s2t("distill_prune", "e_branchformer")


def test_a_missing_teacher_is_named_when_training_starts():
    model = build_s2t("distill_prune", "e_branchformer_prunable")
    with pytest.raises(ValueError, match="teacher_init is empty"):
        model(**batch())


def test_default_distill_layers_are_a_third_two_thirds_and_the_top(teacher_file):
    assert student(teacher_file).layers_of == {"encoder": [1, 2, 3]}
    from espnet_dynprune.models.distill_prune import default_distill_layers

    assert default_distill_layers(12) == [4, 8, 12] and default_distill_layers(6) == [2, 4, 6]


DECODER_PRUNED = {"decoder": "transformer_prunable", "decoder_conf": {"num_blocks": 2}}


@pytest.fixture
def teacher_file_2(tmp_path: Path) -> Path:
    """A dense model with a 2-block decoder."""
    path = tmp_path / "dense2.pth"
    torch.save(build_s2t("espnet", "e_branchformer", decoder_conf={"num_blocks": 2}).state_dict(), path)
    return path


def test_decoder_only_pruning_distils_the_decoder_teacher_forced_with_the_encoder_frozen(teacher_file_2):
    model = student(teacher_file_2, encoder="e_branchformer", **DECODER_PRUNED, sparsity_target=0.5)
    assert model.pruned_parts == ("decoder",) and model.layers_of == {"decoder": [1, 2]}
    loss, stats, _ = model(**batch())
    assert "loss_att" not in stats and "loss_distill_decoder" not in stats  # one part: loss_distill is its loss
    loss.backward()
    frozen = [*model.encoder.parameters(), *model.ctc.parameters(), *model.decoder.after_norm.parameters(),
              *model.decoder.output_layer.parameters()]
    assert all(p.grad is None and not p.requires_grad for p in frozen)
    assert model.decoder.layer_masks[0].masks["src_attn_vo"].scaled_log_alpha.grad is not None
    assert model.decoder.decoders[1].feed_forward.w_1.weight.grad is not None
    assert model.decoder.embed[0].weight.grad is not None
    teacher = model.teacher("decoder", torch.device("cpu"))
    dense = torch.load(teacher_file_2, weights_only=True)
    assert type(teacher).__name__ == "TransformerDecoder" and not any(p.requires_grad for p in teacher.parameters())
    assert torch.equal(teacher.decoders[1].src_attn.linear_k.weight, dense["decoder.decoders.1.src_attn.linear_k.weight"])


def test_both_parts_share_one_target_and_log_each(teacher_file_2):
    model = student(teacher_file_2, **DECODER_PRUNED, sparsity_target=0.5)
    loss, stats, _ = model(**batch())
    for key in ("loss_distill_encoder", "loss_distill_decoder", "sparsity_realised_encoder", "sparsity_realised_decoder"):
        assert key in stats
    assert stats["loss_distill"].item() == pytest.approx(
        (stats["loss_distill_encoder"] + stats["loss_distill_decoder"]).item(), rel=1e-6)
    dense = model.encoder.dense_params() + model.decoder.dense_params()
    kept = model.encoder.kept_params() + model.decoder.kept_params()
    assert stats["sparsity_realised"].item() == pytest.approx(1 - kept / dense)
    loss.backward()
    assert model.encoder.after_norm.weight.grad is not None  # the pruned decoder reads it
    assert model.encoder.layer_masks[0].masks["attn_qk"].scaled_log_alpha.grad is not None
    assert model.decoder.layer_masks[1].masks["self_attn_qk"].scaled_log_alpha.grad is not None


def test_a_fully_kept_student_of_both_parts_equals_its_teacher(teacher_file_2):
    model = student(teacher_file_2, **DECODER_PRUNED).eval()
    for part in (model.encoder, model.decoder):
        for layer_masks in part.layer_masks:
            for mask in layer_masks.masks.values():
                mask.set_log_alpha(10.0)
    _, stats, _ = model(**batch())
    assert stats["loss_distill_decoder"].item() == pytest.approx(0.0, abs=1e-5)
    assert stats["loss_distill_encoder"].item() == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("conf,match", [
    ({"decoder_distill_layers": [3]}, r"decoder_distill_layers \[3\] are not decoder layers \(1 ... 2\)"),
    ({"decoder_distill_layers": [1]}, r"decoder_distill_layers \[1\] leave out the last layer \(2\)"),
])  # fmt: skip
def test_bad_decoder_model_conf_is_named(conf, match):
    with pytest.raises(ValueError, match=match):
        build_s2t("distill_prune", "e_branchformer", conf, **DECODER_PRUNED)
