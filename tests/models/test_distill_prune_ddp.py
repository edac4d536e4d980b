"""model: distill_prune under torch DDP (2 CPU processes, gloo) as ESPnet wraps it: no unused
parameters (frozen decoder, teacher outside the module tree), even with a whole module removed."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.builders.tiny_s2t import batch
from tests.builders.tiny_static import dense_model_file, student


def _train(rank: int, world: int, port: int, teacher: str, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    model = student(teacher, sparsity_target=0.5)
    model.encoder.layer_masks[0].masks["cgmlp"].set_log_alpha(-10.0)  # layer 0's cgMLP removed
    ddp = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=False)
    optim = torch.optim.Adam([p for p in ddp.parameters() if p.requires_grad], lr=1e-3)
    for step in range(3):
        loss, _, _ = ddp(**batch(2, seed=10 * rank + step))
        optim.zero_grad()
        loss.backward()
        optim.step()
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    results[rank] = ([float(g) for g in gathered], model.sparsity.step)
    dist.destroy_process_group()


def test_ddp_trains_the_student_in_sync(tmp_path, unused_tcp_port):
    teacher = str(dense_model_file(tmp_path / "dense.pth"))
    results = mp.Manager().dict()
    mp.spawn(_train, args=(2, unused_tcp_port, teacher, results), nprocs=2, join=True)
    (a, b), steps = results[0]
    assert a == pytest.approx(b, rel=1e-9) and steps == 3  # replicas stayed in sync; the warm-up clock ran
