"""layerwise_distill_loss: zero at the teacher, blind to padding, growing with distance, L1 + cosine per frame."""

import pytest
import torch
import torch.nn.functional as F

from espnet_dynprune.models.distill_loss import layerwise_distill_loss

LENGTHS = torch.tensor([7, 4, 2])


def layers(seed, count=2, t=7):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(len(LENGTHS), t, 16, generator=gen) for _ in range(count)]


def test_identical_inputs_give_zero():
    teacher = layers(0)
    loss = layerwise_distill_loss([h.clone() for h in teacher], teacher, LENGTHS)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_padding_frames_do_not_count():
    student, teacher = layers(0), layers(1)
    loss = layerwise_distill_loss(student, teacher, LENGTHS)
    changed_s, changed_t = [h.clone() for h in student], [h.clone() for h in teacher]
    for s, t in zip(changed_s, changed_t):
        for b, n in enumerate(LENGTHS.tolist()):
            s[b, n:] = 50.0 * torch.randn_like(s[b, n:])
            t[b, n:] = 0.0  # zero vectors too: no NaN from the cosine of padding
    changed = layerwise_distill_loss(changed_s, changed_t, LENGTHS)
    assert torch.isfinite(changed)
    assert changed.item() == pytest.approx(loss.item(), rel=1e-6)
    changed_s[0][0, 0] += 1.0  # a valid frame does count
    assert layerwise_distill_loss(changed_s, changed_t, LENGTHS).item() != pytest.approx(loss.item(), rel=1e-6)


def test_grows_with_distance():
    teacher, direction = layers(0), layers(1)
    losses = [layerwise_distill_loss([t + a * d for t, d in zip(teacher, direction)], teacher, LENGTHS).item()
              for a in (0.0, 0.1, 0.5, 1.0, 3.0)]
    assert losses[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(losses, losses[1:]))


def test_is_the_mean_over_layers_of_l1_plus_weighted_cosine_distance_over_valid_frames():
    student, teacher = layers(0), layers(1)
    valid = torch.arange(7)[None, :] < LENGTHS[:, None]
    per_layer = [(s - t).abs().mean(-1)[valid].mean() + 0.3 * (1 - F.cosine_similarity(s, t, dim=-1)[valid].mean())
                 for s, t in zip(student, teacher)]
    expected = torch.stack(per_layer).mean()
    loss = layerwise_distill_loss(student, teacher, LENGTHS, cosine_weight=0.3)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_is_differentiable_in_the_student():
    student, teacher = [h.requires_grad_() for h in layers(0)], layers(1)
    layerwise_distill_loss(student, teacher, LENGTHS).backward()
    for s in student:
        assert s.grad.abs().sum() > 0
        assert torch.equal(s.grad[1, 4:], torch.zeros_like(s.grad[1, 4:]))  # padding gets no gradient


@pytest.mark.parametrize("counts", [(2, 1), (1, 3), (0, 0)])
def test_mismatched_or_no_layers_raise(counts):
    with pytest.raises(ValueError, match=f"got {counts[0]} and {counts[1]}"):
        layerwise_distill_loss(layers(0, counts[0]), layers(1, counts[1]), LENGTHS)


def test_normalize_makes_the_loss_blind_to_the_scale_of_both():
    student, teacher = layers(0), layers(1)
    plain = layerwise_distill_loss(student, teacher, LENGTHS, normalize=True)
    scaled = layerwise_distill_loss([10 * h for h in student], [10 * h for h in teacher], LENGTHS, normalize=True)
    assert scaled.item() == pytest.approx(plain.item(), rel=1e-4)
    raw = layerwise_distill_loss([10 * h for h in student], [10 * h for h in teacher], LENGTHS)
    assert raw.item() > 5 * plain.item()
