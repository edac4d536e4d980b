"""Dynamic skipping under torch DDP (2 CPU processes, gloo)."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.builders.tiny_s2t import batch, build_model


def _train(rank: int, world: int, port: int, skip_rows: bool, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    conf = {"skip_rows_in_training": skip_rows}
    model = build_model(conf, conf)
    with torch.no_grad():  # layer0.attn of the encoder is skipped by every utterance
        model.encoder.gate_predictor.mlp[-1].bias[2:4] = torch.tensor([50.0, -50.0])
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False)
    optim = torch.optim.SGD(ddp.parameters(), lr=0.01)
    for step in range(3):
        loss, _, _ = ddp(**batch(2, seed=10 * rank + step))
        optim.zero_grad()
        loss.sum().backward()
        optim.step()
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    results[rank] = [float(g) for g in gathered]
    dist.destroy_process_group()


@pytest.mark.parametrize("skip_rows", [True, False])
def test_ddp_trains_with_skipped_modules(skip_rows, unused_tcp_port):
    results = mp.Manager().dict()
    mp.spawn(_train, args=(2, unused_tcp_port, skip_rows, results), nprocs=2, join=True)
    a, b = results[0]
    assert a == pytest.approx(b, rel=1e-9)  # replicas stayed in sync
