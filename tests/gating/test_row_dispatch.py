import torch

from espnet_dynprune.gating.decision import GateDecision, RowSet
from espnet_dynprune.gating.row_dispatch import gated_branch, gated_residual


class CountingLinear(torch.nn.Linear):
    def __init__(self):
        super().__init__(4, 4)
        self.rows_seen = []

    def forward(self, x):
        self.rows_seen.append(x.size(0))
        return super().forward(x)


def decision(keep, skip_rows=True):
    values = torch.tensor(keep, dtype=torch.float32).unsqueeze(1)
    return GateDecision(values, ["g"], skip_rows)


def test_module_runs_on_kept_rows_only_and_matches_per_row():
    torch.manual_seed(0)
    fn = CountingLinear()
    x = torch.randn(4, 3, 4)
    d = decision([1, 0, 1, 0])
    y = gated_residual(x, d.rows(0), d.value(0), fn, scale=0.5)
    assert fn.rows_seen == [2]
    assert torch.allclose(y[1], x[1]) and torch.allclose(y[3], x[3])
    assert torch.allclose(y[0], x[0] + 0.5 * fn(x[0:1])[0])


def test_nobody_keeps_means_no_call_and_everyone_means_no_indexing():
    fn = CountingLinear()
    x = torch.randn(3, 2, 4)
    d = decision([0, 0, 0])
    assert torch.equal(gated_residual(x, d.rows(0), d.value(0), fn), x)
    assert fn.rows_seen == []
    d = decision([1, 1, 1])
    assert d.rows(0).everyone
    gated_residual(x, d.rows(0), d.value(0), fn)
    assert fn.rows_seen == [3]


def test_straight_through_mode_runs_all_rows_and_zeroes_skipped():
    torch.manual_seed(0)
    fn = CountingLinear()
    x = torch.randn(4, 3, 4)
    skip, full = decision([1, 0, 0, 1]), decision([1, 0, 0, 1], skip_rows=False)
    a = gated_residual(x, skip.rows(0), skip.value(0), fn)
    b = gated_residual(x, full.rows(0), full.value(0), fn, zero_skipped=True)
    assert fn.rows_seen == [2, 4]
    assert torch.allclose(a, b)


def test_branch_returns_zeros_for_skipped_rows():
    fn = CountingLinear()
    x = torch.randn(3, 2, 4)
    d = decision([0, 1, 0])
    out = gated_branch(x, d.rows(0), d.value(0), fn)
    assert fn.rows_seen == [1]
    assert out[0].abs().sum() == 0 and out[2].abs().sum() == 0
    assert torch.allclose(out[1], fn(x[1:2])[0])


def test_keepalive_gives_skipped_parameters_a_zero_gradient():
    fn = CountingLinear()
    x = torch.randn(2, 2, 4, requires_grad=True)
    values = torch.zeros(2, 1, requires_grad=True)
    d = GateDecision(values, ["g"], skip_rows=True)
    y = gated_residual(x, d.rows(0), d.value(0), fn, owners=(fn,))
    y.sum().backward()
    assert fn.rows_seen == []
    assert fn.weight.grad is not None and fn.weight.grad.abs().sum() == 0


def test_rowset_union_and_within():
    a = RowSet.from_mask(torch.tensor([True, False, False, True]), torch.device("cpu"))
    b = RowSet.from_mask(torch.tensor([False, False, True, True]), torch.device("cpu"))
    union = a.union(b, torch.device("cpu"))
    assert union.index.tolist() == [0, 2, 3]
    assert a.within(union, torch.device("cpu")).index.tolist() == [0, 2]
