"""What Speech2Text is given must be speech: one channel of finite samples, long enough.

ESPnet's ``Speech2Text`` pads or trims any array to the model's ``speech_length`` and decodes
it. So an empty or 0.05 s array becomes seconds of silence and a confident sentence comes out,
NaN samples make the whole encoder output NaN, and int16 samples handed over as floats are
32768 times too loud. Here such input is an error, or, for integer PCM, converted the way audio
readers convert it; and audio longer than the model's input window is reported, since ESPnet
decodes only its first ``speech_length`` seconds.
"""

from __future__ import annotations

import logging
from typing import Union

import numpy as np
import torch

#: Shortest input worth decoding (the recipe's ``min_wav_duration``); shorter is an error.
MIN_SECONDS = 0.1
_PCM_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0, np.dtype(np.int8): 128.0}

Waveform = Union[np.ndarray, torch.Tensor]


def check_waveform(speech: Waveform, sample_rate: int, what: str = "speech") -> np.ndarray:
    """``speech`` as a 1-D float32 array in [-1, 1], or a ``ValueError``/``TypeError`` saying why not.

    Accepts (samples,) or (samples, 1); int8/int16/int32 PCM is scaled to [-1, 1], uint8 PCM
    centred first.
    """
    array = speech.detach().cpu().numpy() if isinstance(speech, torch.Tensor) else np.asarray(speech)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{what} of shape {array.shape}: give one channel, (samples,) or (samples, 1)")
    if array.dtype == np.uint8:
        array = (array.astype(np.float32) - 128.0) / 128.0
    elif array.dtype in _PCM_SCALE:
        array = array.astype(np.float32) / _PCM_SCALE[array.dtype]
    elif not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{what} has samples of type {array.dtype}: give float audio in [-1, 1] or int16 PCM")
    array = array.astype(np.float32, copy=False)
    seconds = array.size / sample_rate
    if seconds < MIN_SECONDS:
        raise ValueError(f"{what} is {array.size} samples ({seconds:.3f} s at {sample_rate} Hz), shorter than "
                         f"{MIN_SECONDS} s: nothing to transcribe")
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"{what} has {bad.size} NaN or infinite samples (the first at sample {bad[0]})")
    # Loud float audio is legitimate (ESPnet's own tests feed Gaussian noise); what is wrong is integer PCM
    # cast to float: whole numbers only, beyond [-1, 1].
    peak = float(np.abs(array).max())
    if peak > 1.0 and np.array_equal(array, np.round(array)):
        raise ValueError(f"{what} reaches {peak:g} in whole numbers only: int16 values given as floats? "
                         f"Divide them by 32768 (or pass the int16 array itself)")
    return array


def warn_if_cut(num_samples: int, sample_rate: int, window_seconds: float, what: str = "speech") -> bool:
    """Log, and return True, when ``num_samples`` exceed the model's input window."""
    seconds = num_samples / sample_rate
    if seconds <= window_seconds:
        return False
    logging.warning(
        f"{what} is {seconds:.2f} s, longer than the model's {window_seconds:g} s input window "
        f"(preprocessor_conf.speech_length): Speech2Text decodes its first {window_seconds:g} s and "
        f"drops the last {seconds - window_seconds:.2f} s; cut long recordings into segments first"
    )
    return True
