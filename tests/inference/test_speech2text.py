"""The drop-in Speech2Text on the inputs ESPnet's own Speech2Text tests use: a model written by
``S2TTask.main --dry_run`` with ESPnet's test token list (``<na>`` and all), the dynprune encoder,
decoder and model, Gaussian noise as speech, ESPnet's ``batch_decode`` with a padded batch, the
call's overriding arguments and a quantised model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from espnet_dynprune.inference.speech2text import DynPruneSpeech2Text
from espnet_dynprune.nets.espnet_compat import Hypothesis
from espnet_dynprune.registration import register_s2t

ESPNET_TEST_TOKENS = ["<blank>", "<unk>", "<na>", "<nospeech>", "<eng>", "<zho>", "<asr>", "<st_eng>", "<st_zho>",
                      "<notimestamps>", "<0.00>", "<1.00>", "a", "i", "<sos>", "<eos>", "<sop>"]
TINY = {"--encoder_conf": {"output_size": 16, "num_blocks": 1, "linear_units": 32, "cgmlp_linear_units": 32,
                           "attention_heads": 2, "input_layer": "conv2d"},
        "--frontend_conf": {"fs": 2000, "hop_length": 128},  # what long-form decoding lines windows up with
        "--decoder_conf": {"num_blocks": 1, "linear_units": 32, "attention_heads": 2},
        "--model_conf": {"sparsity_loss_weight": 1.0}}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    """As ESPnet's test fixture writes it (2 kHz, a 4 s window), with this package's classes."""
    register_s2t()
    from espnet2.tasks.s2t import S2TTask

    tmp = tmp_path_factory.mktemp("s2t")
    tokens = tmp / "tokens.txt"
    tokens.write_text("".join(f"{t}\n" for t in ESPNET_TEST_TOKENS), encoding="utf-8")
    cmd = ["--dry_run", "true", "--output_dir", str(tmp / "s2t"), "--token_list", str(tokens),
           "--token_type", "char", "--model", "dynprune", "--encoder", "e_branchformer_dynprune",
           "--decoder", "transformer_dynprune"]
    for key, conf in TINY.items():
        cmd += [arg for k, v in conf.items() for arg in (key, f"{k}={v}")]
    for k, v in {"notime_symbol": "'<notimestamps>'", "first_time_symbol": "'<0.00>'",
                 "last_time_symbol": "'<1.00>'", "fs": 2000, "speech_length": 4}.items():
        cmd += ["--preprocessor_conf", f"{k}={v}"]
    S2TTask.main(cmd=cmd)
    return tmp / "s2t" / "config.yaml"


def _well_formed(results) -> None:
    for text, token, token_int, text_nospecial, hyp in results:
        assert isinstance(text, str) and isinstance(text_nospecial, str)
        assert all(isinstance(t, str) for t in token) and all(isinstance(t, int) for t in token_int)
        assert isinstance(hyp, Hypothesis)


def test_gaussian_noise_decodes_as_in_espnets_tests(config_file):
    s2t = DynPruneSpeech2Text(s2t_train_config=config_file, beam_size=1, maxlenratio=-5)
    speech = np.random.default_rng(0).standard_normal(1000)  # peak about 3: legitimate float input
    assert float(np.abs(speech).max()) > 2.0
    _well_formed(s2t(speech))


def test_the_calls_arguments_override_the_defaults(config_file):
    s2t = DynPruneSpeech2Text(s2t_train_config=config_file, beam_size=1, maxlenratio=-5)
    speech = np.random.default_rng(1).standard_normal(1000)
    _well_formed(s2t(speech, text_prev="<na>", lang_sym="<zho>", task_sym="<st_eng>", predict_time=True))


def test_a_quantised_model_decodes(config_file):
    s2t = DynPruneSpeech2Text(s2t_train_config=config_file, beam_size=1, maxlenratio=-5, quantize_s2t_model=True)
    _well_formed(s2t(np.random.default_rng(2).standard_normal(1000)))


@pytest.mark.parametrize("ctc_weight", [0.0, 0.3])
def test_batch_decode_of_a_padded_batch_reproduces_each_utterance_alone(config_file, ctc_weight):
    s2t = DynPruneSpeech2Text(s2t_train_config=config_file, beam_size=2, maxlenratio=-8, ctc_weight=ctc_weight)
    if ctc_weight and not hasattr(DynPruneSpeech2Text.__mro__[1], "batch_decode"):
        pytest.skip("this ESPnet has no batched search of its own for a CTC-scored beam")
    rng = np.random.default_rng(3)
    lengths = [4000, 3000, 9000]  # the last is longer than the 4 s window: cut, as one at a time
    speeches = [rng.standard_normal(n).astype(np.float32) for n in lengths]
    expected = [s2t(speech, lang_sym="<eng>", task_sym="<asr>") for speech in speeches]
    padded = np.zeros((len(speeches), max(lengths)), np.float32)
    for row, speech in zip(padded, speeches):
        row[: len(speech)] = speech
    got = s2t.batch_decode(torch.from_numpy(padded), torch.tensor(lengths), lang_sym="<eng>", task_sym="<asr>")
    assert len(got) == len(speeches)
    for want, have in zip(expected, got):
        _well_formed(have)
        assert [w[1] for w in want] == [h[1] for h in have]
        np.testing.assert_allclose(float(want[0][4].score), float(have[0][4].score), rtol=1e-4)


@pytest.mark.parametrize("quantize", [False, True])
def test_espnets_speech2language_identifies_a_language_with_the_not_known_context(config_file, quantize):
    from espnet2.bin.s2t_inference_language import Speech2Language

    s2l = Speech2Language(s2t_train_config=config_file, quantize_s2t_model=quantize, first_lang_sym="<eng>",
                          last_lang_sym="<zho>")
    results = s2l(np.random.default_rng(4).standard_normal(1000))
    assert results and all(symbol in ("<eng>", "<zho>") and 0.0 <= prob <= 1.0 for symbol, prob in results)


def test_long_form_decoding_tells_the_encoder_the_language_of_every_window(config_file, monkeypatch):
    if not hasattr(DynPruneSpeech2Text.__mro__[1], "_near_window_end"):
        pytest.skip("ESPnet 202511's decode_long assumes OWSM's 30 s window (a '<29.00>' symbol)")
    s2t = DynPruneSpeech2Text(s2t_train_config=config_file, beam_size=1, maxlenratio=-5)
    model, calls = s2t.s2t_model, []
    told = model.inference_context
    monkeypatch.setattr(model, "inference_context", lambda lang, task: calls.append((lang, task)) or told(lang, task))
    recording = np.random.default_rng(5).standard_normal(2000 * 10).astype(np.float32)  # 10 s, windows of 4 s
    segments = s2t.decode_long(recording, lang_sym="<zho>", task_sym="<asr>")
    assert len(segments) >= 3 and all(isinstance(text, str) and start < end for start, end, text in segments)
    assert calls == [("<zho>", "<asr>")] * len(calls) and len(calls) >= 3
