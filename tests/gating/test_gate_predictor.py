import subprocess
import sys

import pytest
import torch

from espnet_dynprune.gating.gate_predictor import GatePredictor, masked_time_average

NAMES = [f"layer{i}.{m}" for i in range(3) for m in ("a", "b")]


def context_predictor(**kwargs) -> GatePredictor:
    predictor = GatePredictor(8, NAMES, kind="context", hidden_size=16, context_size=4, **kwargs)
    predictor.bind_context(num_languages=3, num_tasks=2)
    return predictor


def test_time_average_ignores_padding():
    x = torch.randn(2, 6, 8)
    valid = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    before = masked_time_average(x, valid)
    x[1, 3:] = 1e6
    after = masked_time_average(x, valid)
    assert torch.allclose(before, after)
    assert torch.allclose(after[1], x[1, :3].mean(0))


def test_context_changes_the_decision_inputs():
    torch.manual_seed(0)
    predictor = context_predictor()
    x = torch.randn(1, 5, 8)
    a = predictor.logits(x, None, torch.tensor([0]), torch.tensor([0]))
    b = predictor.logits(x, None, torch.tensor([2]), torch.tensor([0]))
    c = predictor.logits(x, None, torch.tensor([0]), torch.tensor([1]))
    assert not torch.allclose(a, b) and not torch.allclose(a, c)


def test_missing_context_uses_the_not_known_rows_and_warns_when_they_are_untrained(caplog):
    torch.manual_seed(0)
    predictor = context_predictor().eval()
    x = torch.randn(2, 5, 8)
    assert predictor.language_embed.num_embeddings == 4 and predictor.task_embed.num_embeddings == 3
    with caplog.at_level("WARNING"):
        none_given = predictor.logits(x, None, None, None)
    assert "context_dropout: 0" in caplog.text
    minus_one = predictor.logits(x, None, torch.tensor([-1, -1]), torch.tensor([-1, -1]))
    last_rows = predictor.logits(x, None, torch.tensor([3, 3]), torch.tensor([2, 2]))
    assert torch.equal(none_given, minus_one) and torch.equal(minus_one, last_rows)
    known = predictor.logits(x, None, torch.tensor([0, 0]), torch.tensor([0, 0]))
    assert not torch.allclose(known, none_given)
    mixed = predictor.logits(x, None, torch.tensor([0, -1]), torch.tensor([0, -1]))
    assert torch.equal(mixed[0], known[0]) and torch.equal(mixed[1], none_given[1])


def test_context_dropout_hides_language_and_task_in_training_only():
    torch.manual_seed(0)
    predictor = context_predictor(context_dropout=0.5).eval()
    x, lang, task = torch.randn(400, 5, 8), torch.zeros(400, dtype=torch.long), torch.zeros(400, dtype=torch.long)
    known, unknown = (predictor.logits(x, None, i, i).detach() for i in (lang, lang - 1))
    with torch.no_grad():
        trained = predictor.train().logits(x, None, lang, task)
    neither = (trained - unknown).abs().amax((1, 2)) < 1e-6
    both = (trained - known).abs().amax((1, 2)) < 1e-6
    assert 0.15 < neither.float().mean() < 0.35 and 0.15 < both.float().mean() < 0.35  # 0.5 x 0.5 each
    predictor.eval()
    assert torch.equal(predictor.logits(x, None, lang, task), known)
    with pytest.raises(ValueError, match="context_dropout"):
        context_predictor(context_dropout=1.0)


def test_speech_predictor_needs_no_context_and_none_is_dense():
    speech = GatePredictor(8, NAMES, kind="speech")
    assert speech(torch.randn(2, 5, 8)).values.shape == (2, 6)
    dense = GatePredictor(8, NAMES, kind="none")
    assert dense(torch.randn(2, 5, 8)).keep.all()
    assert list(dense.state_dict()) == []


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="gate_predictor 'sigmoid'"):
        GatePredictor(8, NAMES, kind="sigmoid")


def test_inference_is_deterministic_and_training_counts_updates():
    torch.manual_seed(0)
    predictor = context_predictor().eval()
    x, lang, task = torch.randn(4, 5, 8), torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 0, 1])
    first = predictor(x, None, lang, task).keep
    assert torch.equal(first, predictor(x, None, lang, task).keep)
    assert int(predictor.num_updates) == 0
    predictor.train()
    optimizer = torch.optim.SGD(predictor.parameters(), lr=0.1)
    for _ in range(4):  # accum_grad 2: four forward passes, two updates
        predictor(x, None, lang, task).values.sum().backward()
    assert int(predictor.num_updates) == 0
    optimizer.step()
    optimizer.step()
    assert int(predictor.num_updates) == 2
    torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1).step()  # another model's optimiser
    assert int(predictor.num_updates) == 2
    assert predictor.temperature() == predictor.schedule(2)


def test_forcing_patterns():
    torch.manual_seed(0)
    predictor = context_predictor().eval()
    x, lang, task = torch.randn(3, 5, 8), torch.tensor([0, 1, 2]), torch.tensor([0, 1, 0])
    predictor.force("off")
    assert not predictor(x, None, lang, task).keep.any()
    predictor.force("on")
    assert predictor(x, None, lang, task).keep.all()
    mask = torch.tensor([1, 0, 1, 0, 1, 1])
    predictor.force(mask)
    assert predictor(x, None, lang, task).keep.tolist() == [mask.bool().tolist()] * 3
    predictor.force(0.5)
    keep = predictor(x, None, lang, task).keep
    assert keep.sum(1).tolist() == [3, 3, 3]
    logits = predictor.logits(x, None, lang, task)
    margin = logits[..., 1] - logits[..., 0]
    for row in range(3):  # the skipped gates are the ones the predictor ranks lowest
        assert margin[row][~keep[row]].max() <= margin[row][keep[row]].min()
    predictor.force(None)
    assert predictor.forcing is None


@pytest.mark.parametrize("spec,error", [("half", ValueError), (1.5, ValueError),
                                        (torch.ones(5), ValueError), (True, TypeError)])
def test_bad_forcing_is_rejected(spec, error):
    with pytest.raises(error):
        context_predictor().force(spec)


def test_gating_package_does_not_import_espnet():
    code = (
        "import sys, espnet_dynprune.gating.gate_predictor, espnet_dynprune.gating.row_dispatch, "
        "espnet_dynprune.gating.hard_concrete, espnet_dynprune.gating.lagrangian, "
        "espnet_dynprune.gating.sparsity\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('espnet', 'espnet2')]\n"
        "assert not bad, bad"
    )
    env = {"ESPNET_DYNPRUNE_DISABLE_AUTOREGISTER": "1", "PATH": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
