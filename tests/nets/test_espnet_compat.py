"""One module knows where the installed ESPnet keeps its ESPnet1 classes; the rest import from it."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from espnet2.asr.decoder import transformer_decoder
from espnet2.asr.encoder import e_branchformer_encoder

from espnet_dynprune.nets import espnet_compat

PACKAGE = Path(espnet_compat.__file__).resolve().parents[1]


def test_the_classes_are_the_ones_espnet2_itself_uses():
    assert espnet_compat.NETS in espnet_compat.NETS_PACKAGES
    assert espnet_compat.DecoderLayer is transformer_decoder.DecoderLayer
    assert espnet_compat.make_pad_mask is e_branchformer_encoder.make_pad_mask
    assert espnet_compat.subsequent_mask is transformer_decoder.subsequent_mask


def test_padded_frames_are_masked_exactly_when_espnets_e_branchformer_masks_them():
    x = torch.ones(1, 2, 4)
    mask = torch.tensor([[[True, True, False, False]]])
    masks_them = "mask_padded_frames" in vars(e_branchformer_encoder)
    expected = torch.tensor([[[1.0, 1.0, 0.0, 0.0]] * 2]) if masks_them else x
    assert torch.equal(espnet_compat.mask_padded_frames(x, mask), expected)
    assert torch.equal(espnet_compat.mask_padded_frames(x, None), x)


def test_no_other_module_names_a_release_specific_location_or_version():
    # recording the version (a packed model's meta) is fine; branching on it is not
    pattern = re.compile(r"espnet\.nets|espnet2\.legacy|version\(\s*[\"']espnet[\"']|espnet\.__version__\s*[<>=!]")
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "espnet_compat.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
