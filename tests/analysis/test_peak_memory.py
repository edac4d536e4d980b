"""Peak working memory and weight bytes, as the throughput ladder reports them."""

import torch

from espnet_dynprune.analysis.peak_memory import peak_working_bytes, weight_bytes


def test_peak_working_memory_counts_what_is_held_at_once():
    def call():
        a = torch.ones(1000, 250)  # 1 MB (float32)
        b = torch.ones(2000, 250)  # 2 MB: 3 MB held here
        del a
        c = torch.ones(500, 250)  # 0.5 MB: 2.5 MB
        return float(b.sum() + c.sum())

    result, peak = peak_working_bytes(call, torch.device("cpu"))
    assert result == 625000.0 and peak == 3_000_000


def test_weight_bytes_count_int8_packed_weights_once():
    model = torch.nn.Sequential(torch.nn.Linear(100, 100), torch.nn.Linear(100, 100))
    model[1].weight = model[0].weight  # shared: counted once
    assert weight_bytes(model) == (100 * 100 + 2 * 100) * 4
    int8 = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(100, 100)),
                                                  {torch.nn.Linear}, dtype=torch.qint8)
    assert 100 * 100 <= weight_bytes(int8) < 100 * 100 + 100 * 4 + 64
