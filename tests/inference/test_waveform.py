"""Input that is not speech fails before ESPnet pads it into a confident sentence."""

import logging

import numpy as np
import pytest
import torch

from espnet_dynprune.inference.waveform import check_waveform, warn_if_cut

FS = 16000


def tone(seconds=0.5):
    return (0.3 * np.sin(np.arange(int(seconds * FS)) / 10.0)).astype(np.float32)


def test_float_mono_passes_and_one_column_and_tensors_become_1d():
    x = tone()
    assert check_waveform(x, FS) is not None and check_waveform(x, FS).shape == x.shape
    assert np.array_equal(check_waveform(torch.from_numpy(x)[:, None], FS), x)
    assert check_waveform(x.astype(np.float64), FS).dtype == np.float32


@pytest.mark.parametrize("dtype,scale,offset", [(np.int16, 32768, 0), (np.int32, 2 ** 31, 0), (np.uint8, 128, 128)])
def test_integer_pcm_is_scaled_like_audio_readers_do(dtype, scale, offset):
    x = tone()
    pcm = (x * (scale - 1) + offset).astype(dtype)
    assert np.abs(check_waveform(pcm, FS) - x).max() < 2.0 / scale * 128


@pytest.mark.parametrize("speech,error,match", [
    (np.zeros(0, np.float32), ValueError, r"0 samples \(0.000 s at 16000 Hz\), shorter than 0.1 s"),
    (tone(0.05), ValueError, r"800 samples \(0.050 s .* shorter than 0.1 s"),
    (np.concatenate([tone(), [np.nan, np.inf]]).astype(np.float32), ValueError, r"2 NaN or infinite samples \(the first at sample 8000\)"),
    (np.round(tone() * 32767), ValueError, r"reaches 9830 in whole numbers only: int16 values given as floats\? Divide them by 32768"),
    (np.stack([tone(), tone()], axis=1), ValueError, r"shape \(8000, 2\): give one channel"),
    (tone() > 0, TypeError, "samples of type bool"),
])  # fmt: skip
def test_what_is_not_speech_is_named(speech, error, match):
    with pytest.raises(error, match=match):
        check_waveform(speech, FS)


def test_loud_float_audio_passes_as_it_does_in_espnet():
    noise = np.random.default_rng(0).standard_normal(FS).astype(np.float32)  # peak about 4, as ESPnet's tests feed
    assert np.array_equal(check_waveform(noise, FS), noise)
    clipped_square = np.sign(tone()).astype(np.float32)  # whole numbers, but within [-1, 1]
    assert np.array_equal(check_waveform(clipped_square, FS), clipped_square)


def test_audio_longer_than_the_window_is_reported(caplog):
    with caplog.at_level(logging.WARNING):
        assert not warn_if_cut(6 * FS, FS, 6.0)
        assert warn_if_cut(7 * FS, FS, 6.0)
    assert "7.00 s, longer than the model's 6 s input window" in caplog.text and "drops the last 1.00 s" in caplog.text
