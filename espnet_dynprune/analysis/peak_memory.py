"""Peak memory of one call, and the bytes a model's weights take, on CPU or GPU.

A decoding's memory is its weights plus the working memory its largest moment holds (encoder
activations, beam-search states, cached source K/V). On a GPU the caching allocator keeps the
peak itself (``torch.cuda.max_memory_allocated``). On a CPU torch keeps no such count, and the
process's resident size mixes in freed-but-cached pages and everything built before, so the call
runs under torch's profiler with ``profile_memory``: every tensor allocation and free is an event,
and their running sum in time order peaks where the call's working memory does (exact for tensor
memory; Python objects and the allocator's own slack are not counted, as on the GPU).
"""

from __future__ import annotations

from typing import Callable, Iterable, Tuple, TypeVar

import torch
from torch.profiler import ProfilerActivity, profile

T = TypeVar("T")


def _cpu_peak(events: Iterable) -> int:
    """Largest running sum of the CPU allocation events (bytes: + allocated, - freed)."""
    current = peak = 0
    memory = [e for e in events if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU]
    for event in sorted(memory, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak


def peak_working_bytes(call: Callable[[], T], device: torch.device) -> Tuple[T, int]:
    """``call()``'s result and the most bytes of tensors it held at once beyond what existed before."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        result = call()
        torch.cuda.synchronize(device)
        return result, torch.cuda.max_memory_allocated(device) - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = call()
    return result, _cpu_peak(prof.profiler.kineto_results.events())


def weight_bytes(module: torch.nn.Module) -> int:
    """Bytes of ``module``'s state (parameters, buffers, int8 packed weights), each tensor once."""
    seen, total = set(), 0

    def add(value) -> None:
        nonlocal total
        if isinstance(value, torch.Tensor):
            key = (value.data_ptr(), value.numel(), value.dtype)
            if key not in seen:
                seen.add(key)
                total += value.numel() * value.element_size()
        elif isinstance(value, (tuple, list)):  # quantized Linear: (int8 weight, bias)
            for item in value:
                add(item)

    for value in module.state_dict(keep_vars=True).values():
        add(value)
    return total
