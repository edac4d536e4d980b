"""What differs between the ESPnet releases this package supports (202511 and 202611).

ESPnet 202611 moved ESPnet1's ``espnet.nets`` package to ``espnet2.legacy.nets`` (the module
names below it are unchanged); ESPnet 202511 has it at ``espnet.nets``. 202611 also masks padded
frames before convolutions, counts the prompt in end detection, searches several utterances at
once and refuses unsafe model files itself. This module is the one place that knows, each decided
by what the installed ESPnet has rather than by its version number: every other module imports
these names from here, so supporting another release means changing this file alone.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from types import ModuleType
from typing import Callable, Optional

import torch

# Newest layout first: 202511's ``espnet`` package is absent from 202611's install.
NETS_PACKAGES = ("espnet2.legacy.nets", "espnet.nets")


def _find_nets() -> str:
    for package in NETS_PACKAGES:
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as exc:
            # Only "this layout is not installed" moves on; a dependency missing inside it is a real error.
            if exc.name is None or not package.startswith(exc.name):
                raise
            continue
        return package
    raise ImportError(
        f"espnet_dynprune needs ESPnet 202511 or 202611: none of {', '.join(NETS_PACKAGES)} imports"
    )


NETS = _find_nets()
#: The installed ESPnet release, for reports (what it changes is decided below, by what it has).
ESPNET_VERSION = importlib.metadata.version("espnet")


def _nets(module: str) -> ModuleType:
    return importlib.import_module(f"{NETS}.{module}")


make_pad_mask = _nets("pytorch_backend.nets_utils").make_pad_mask
get_activation = _nets("pytorch_backend.nets_utils").get_activation
end_detect = _nets("e2e_asr_common").end_detect
BeamSearch = _nets("beam_search").BeamSearch
Hypothesis = _nets("beam_search").Hypothesis
BatchBeamSearch = _nets("batch_beam_search").BatchBeamSearch
MultiHeadedAttention = _nets("pytorch_backend.transformer.attention").MultiHeadedAttention
DecoderLayer = _nets("pytorch_backend.transformer.decoder_layer").DecoderLayer
LayerNorm = _nets("pytorch_backend.transformer.layer_norm").LayerNorm
subsequent_mask = _nets("pytorch_backend.transformer.mask").subsequent_mask
PositionwiseFeedForward = _nets("pytorch_backend.transformer.positionwise_feed_forward").PositionwiseFeedForward
TooShortUttError = _nets("pytorch_backend.transformer.subsampling").TooShortUttError
check_short_utt = _nets("pytorch_backend.transformer.subsampling").check_short_utt


def _mask_padded_frames() -> Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]:
    """ESPnet 202611 zeroes the padded frames before each convolution along time (the E-Branchformer
    merge, the cgMLP gate); 202511 lets the convolutions read them. Either way, the same as ESPnet."""
    found = getattr(_nets("pytorch_backend.conformer.convolution"), "mask_padded_frames", None)
    if found is not None:
        return found

    def reads_the_padding(x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        return x

    return reads_the_padding


#: ``mask_padded_frames(x (B, C, T), mask (B, 1, T) True on real frames or None)``, as this ESPnet does it.
mask_padded_frames = _mask_padded_frames()


def end_detect_step(step: int, primer_length: int) -> int:
    """The step ESPnet's beam search passes to ``end_detect`` after ``step`` steps from a primer of
    ``primer_length`` tokens: ESPnet 202611 counts the primer's tokens beyond ``<sos>`` (it would
    otherwise stop one step late per prompt token), 202511 does not."""
    return step + primer_length - 1 if hasattr(BeamSearch, "_primer_length") else step


#: ESPnet 202611's ``BatchBeamSearch`` decodes several utterances in one search (``x`` of (B, T, D) with
#: ``x_lengths``; what its ``Speech2Text(batch_size=N).batch_decode`` runs); 202511's one at a time.
SEARCHES_SEVERAL_UTTERANCES = "x_lengths" in inspect.signature(BatchBeamSearch.forward).parameters


def _load_refusals() -> tuple[type[Exception], ...]:
    try:
        module = importlib.import_module("espnet2.torch_utils.safe_torch_load")
    except ModuleNotFoundError:
        return ()
    return (module.UnsafeLoadRefusedError,)


#: What ESPnet's own loaders raise for a model file that holds more than weights: ESPnet 202611 loads
#: with torch's safe unpickler itself (``safe_torch_load``, unsafe only on the user's explicit opt-in);
#: 202511 unpickles anything (the plugin guards it: ``nets.safe_loading``).
ESPNET_LOAD_REFUSALS = _load_refusals()
