"""Session-wide test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """The CLIs set one torch thread per job; give the rest of the test session its threads back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
