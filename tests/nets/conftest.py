import pytest
import torch


@pytest.fixture
def speech():
    torch.manual_seed(1)
    return torch.randn(3, 40, 20), torch.tensor([40, 33, 25])
