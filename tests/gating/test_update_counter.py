"""Optimiser updates counted per watched module: steps that update it, not forward passes."""

import gc

import torch

from espnet_dynprune.gating.update_counter import count_updates


def _step(optimizer: torch.optim.Optimizer, module: torch.nn.Module, forwards: int = 1) -> None:
    optimizer.zero_grad()
    for _ in range(forwards):  # gradient accumulation: several forwards, one update
        module(torch.ones(1, 2)).sum().backward()
    optimizer.step()


def test_each_step_of_an_optimiser_holding_the_module_counts_once():
    watched, other = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    updates = []
    count_updates(watched, updates.append)
    _step(torch.optim.SGD(watched.parameters(), lr=0.1), watched, forwards=3)
    _step(torch.optim.SGD(other.parameters(), lr=0.1), other)  # does not update the watched module
    assert updates == [watched]


def test_a_parameter_group_added_later_counts():
    watched, other = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    updates = []
    count_updates(watched, updates.append)
    optimizer = torch.optim.Adam(other.parameters())
    _step(optimizer, other)
    optimizer.add_param_group({"params": watched.parameters()})
    _step(optimizer, watched)
    assert updates == [watched]


def test_a_module_gone_is_no_longer_watched():
    calls = []
    module = torch.nn.Linear(2, 1)
    count_updates(module, lambda m: calls.append(1))
    del module
    gc.collect()
    other = torch.nn.Linear(2, 1)
    _step(torch.optim.SGD(other.parameters(), lr=0.1), other)
    assert calls == []
