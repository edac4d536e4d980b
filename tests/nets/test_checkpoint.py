"""checkpoint_size: what a model file holds, in parameters and bytes."""

import torch

from espnet_dynprune.nets.checkpoint import checkpoint_size


def test_magnitude_masks_are_not_counted_as_parameters(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"encoder.w.weight": torch.ones(10, 10), "encoder.w.magnitude_mask": torch.ones(10, 10),
                "decoder.w.weight": torch.ones(5), "decoder.w.magnitude_ready": torch.tensor(True)}, path)
    size = checkpoint_size(path)
    assert size["parameters"] == 105 and size["encoder_parameters"] == 100
    assert size["file_bytes"] == path.stat().st_size
