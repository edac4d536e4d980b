import pytest
import torch


@pytest.fixture
def speech():
    torch.manual_seed(1)
    return torch.randn(3, 40, 20), torch.tensor([40, 33, 25])


@pytest.fixture
def unused_tcp_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
