"""Fault scenarios of configs, model files, inference input and gate forcing."""

from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
import yaml

from espnet_dynprune.nets.checkpoint import CheckpointMismatchError, load_pretrained
from espnet_dynprune.recipe import decode, token_list as token_list_command
from espnet_dynprune.zoo import model_zoo
from espnet_dynprune.zoo.check_lengths import check_lengths
from espnet_dynprune.zoo.finetune_config import finetune_config
from tests.builders.corpus_files import write_tone
from tests.builders.tiny_s2t import build_model
from tests.faults.context import Ctx, raises
from tests.faults.corpus_scenarios import asr_utt, stage3

# ==================================================================== configs and models


def _finetune(ctx: Ctx, finetune: dict, *message: str) -> None:
    """stage 10's finetune_config on ``finetune`` fails naming the YAML and ``message``, writing no config."""
    s2t_config = ctx.tmp / "finetune.yaml"
    s2t_config.write_text(yaml.safe_dump(finetune), encoding="utf-8")
    output = ctx.tmp / "exp/config.yaml"
    with raises(ValueError, *message):
        finetune_config(ctx.packed, s2t_config, output)
    assert not output.exists() and not output.with_name("config.yaml.pending").exists()


def finetune_typo(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "both", "max_epochs": 3},
              f"{ctx.tmp / 'finetune.yaml'}: unknown s2t_train keys max_epochs")


def finetune_bad_prune(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "all"},
              f"prune: 'all' in {ctx.tmp / 'finetune.yaml'} is not one of encoder, decoder, both, static, static_decoder, static_both, magnitude, none")


def finetune_fixed_key(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "both", "encoder": "conformer"},
              f"{ctx.tmp / 'finetune.yaml'} sets encoder, which must come from the pretrained model")


def finetune_bad_prune_conf(ctx: Ctx) -> None:
    _finetune(ctx, {"prune": "both", "prune_conf": {"sparsity": 0.5}},
              f"prune_conf in {ctx.tmp / 'finetune.yaml'}: unknown keys sparsity; valid for prune: both: ", "sparsity_target")


def zoo_missing_files(ctx: Ctx) -> None:
    zoo = ctx.zoo_copy()
    bpe, stats = next(zoo.rglob("bpe.model")), next(zoo.rglob("feats_stats.npz"))
    bpe.unlink()
    stats.unlink()
    with pytest.raises(model_zoo.ModelZooError) as error:
        model_zoo.ModelZooDir.load(zoo)
    message = str(error.value)
    assert f"model-zoo directory {zoo} is incomplete (problems: 2)" in message
    assert f"looked at {bpe}" in message and f"looked at {stats}" in message


def zoo_without_meta(ctx: Ctx) -> None:
    with raises(model_zoo.ModelZooError, f"{ctx.tmp / 'meta.yaml'} does not exist: {ctx.tmp} is not a model-zoo"):
        model_zoo.ModelZooDir.load(ctx.tmp)


def checkpoint_renamed_key(ctx: Ctx) -> None:
    model = build_model()
    state = {k: v for k, v in model.state_dict().items() if ".gate_predictor." not in k}
    old = "decoder.decoders.0.feed_forward.w_1.weight"
    new = old.replace("w_1", "w_one")
    state[new] = state.pop(old)
    path = ctx.tmp / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as error:
        load_pretrained(model, path)
    assert isinstance(error.value, KeyError)
    lines = str(error.value).splitlines()
    assert lines[0] == f"{path} does not match the model:"
    assert f"  {old}  (did you mean {new}?)" in lines and f"  {new}  (did you mean {old}?)" in lines


def _truncated(path: Path, out: Path) -> Path:
    """The first half of ``path`` (an interrupted download) as ``out``."""
    out.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return out


def checkpoint_truncated(ctx: Ctx) -> None:
    model = build_model()
    torch.save(model.state_dict(), ctx.tmp / "whole.pth")
    cut = _truncated(ctx.tmp / "whole.pth", ctx.tmp / "cut.pth")
    with raises(ValueError, f"{cut} is a truncated or damaged PyTorch checkpoint"):
        load_pretrained(model, cut)


def speech2text_truncated_model(ctx: Ctx) -> None:
    from espnet2.bin.s2t_inference import Speech2Text

    config, model = ctx.model_files
    cut = _truncated(model, ctx.tmp / "cut.pth")
    with raises(ValueError, f"{cut} is a truncated or damaged PyTorch checkpoint"):
        Speech2Text(s2t_train_config=str(config), s2t_model_file=str(cut))


def longer_than_speech_length(ctx: Ctx) -> None:
    config, _ = ctx.model_files  # speech_length: 2.0
    _, dump = stage3(ctx, asr_utt("long", "0", write_tone(ctx.tmp / "audio/long.wav", 2.5)))
    with raises(ValueError, f"{dump}: long-0_asr lasts 2.50 s, longer than speech_length=2.0 in {config}"):
        check_lengths(config, [dump])


def _check_text(ctx: Ctx, text: bytes) -> List[str]:
    """run.sh stage 5's token_list arguments, with ``text`` as the training text."""
    (ctx.tmp / "text").write_bytes(text)
    return ["--pretrained_model", str(ctx.packed), "--output_dir", str(ctx.tmp / "tl"), "--check_text",
            str(ctx.tmp / "text")]


def symbol_not_a_token(ctx: Ctx) -> None:
    args = _check_text(ctx, b"u1 <fra><asr><notimestamps> a\nu7 <hun><asr><notimestamps> b\n")
    with raises(ValueError, f"{ctx.tmp / 'text'} uses symbols that are not in the pretrained token list: "
                            "<hun> (first in u7)"):
        token_list_command.main(args)


def check_text_not_utf8(ctx: Ctx) -> None:
    args = _check_text(ctx, "u1 <fra><asr><notimestamps> caf\xe9\n".encode("latin-1"))
    with raises(ValueError, f"{ctx.tmp / 'text'}:1: not UTF-8 text"):
        token_list_command.main(args)


def speech2text_unknown_language(ctx: Ctx) -> None:
    with raises(ValueError, "unknown language symbol '<jpn>'; valid: <deu> <eng> <fra>"):
        ctx.s2t(tone(1.0), lang_sym="<jpn>", task_sym="<asr>")


def speech2text_unknown_task(ctx: Ctx) -> None:
    from espnet2.bin.s2t_inference import Speech2Text

    config, model = ctx.model_files
    with raises(ValueError, "unknown task symbol '<st_jpn>'; valid: <asr> <st_eng>"):
        Speech2Text(s2t_train_config=str(config), s2t_model_file=str(model), task_sym="<st_jpn>")


# ==================================================================== inference input


def tone(seconds: float) -> np.ndarray:
    """Float32 audio in [-1, 1] at 16 kHz."""
    return (0.3 * np.sin(np.arange(int(seconds * 16000)) / 10.0)).astype(np.float32)


def waveform_empty(ctx: Ctx) -> None:
    with raises(ValueError, "speech is 0 samples (0.000 s at 16000 Hz), shorter than 0.1 s: nothing to transcribe"):
        ctx.s2t(np.zeros(0, np.float32))


def waveform_too_short(ctx: Ctx) -> None:
    with raises(ValueError, "speech is 800 samples (0.050 s at 16000 Hz), shorter than 0.1 s"):
        ctx.s2t(tone(0.05))


def waveform_not_finite(ctx: Ctx) -> None:
    speech = tone(1.0)
    speech[[100, 200]] = np.nan, np.inf
    with raises(ValueError, "speech has 2 NaN or infinite samples (the first at sample 100)"):
        ctx.s2t(speech)


def waveform_int16_values_as_float(ctx: Ctx) -> None:
    with raises(ValueError, "speech reaches 9830", "int16 values given as floats? Divide them by 32768"):
        ctx.s2t(np.round(tone(1.0) * 32767))


def waveform_int16_converted(ctx: Ctx) -> None:
    pcm = (tone(1.0) * 32767).astype(np.int16)
    _, from_int16, *_ = ctx.s2t(pcm)[0]
    _, from_float, *_ = ctx.s2t(pcm.astype(np.float32) / 32768.0)[0]
    assert from_int16 == from_float and from_int16[:3] == ["<fra>", "<asr>", "<notimestamps>"]


def waveform_stereo(ctx: Ctx) -> None:
    with raises(ValueError, "speech of shape (16000, 2): give one channel"):
        ctx.s2t(np.stack([tone(1.0)] * 2, axis=1))


def waveform_longer_than_window(ctx: Ctx) -> None:
    ctx.s2t(tone(3.0))
    assert ("speech is 3.00 s, longer than the model's 2 s input window (preprocessor_conf.speech_length): "
            "Speech2Text decodes its first 2 s and drops the last 1.00 s") in ctx.caplog.text


# ==================================================================== gates


def force_mask_for_one_part(ctx: Ctx) -> None:
    model = build_model().eval()  # encoder: 2 layers x 4 gates, decoder: 2 layers x 3 gates
    predictors = (model.encoder.gate_predictor, model.decoder.gate_predictor)
    for fits, other, g_fit, g_other in (("decoder", "encoder", 6, 8), ("encoder", "decoder", 8, 6)):
        with raises(ValueError, f"cannot force the {other}'s {g_other} gates: gate mask of shape ({g_fit},)"):
            model.force_gates(torch.ones(g_fit))
        assert [p.forcing for p in predictors] == [None, None], f"a mask for the {fits} forced a part"


def force_batch_mask_other_size(ctx: Ctx) -> None:
    model = build_model().eval()
    model.force_gates(torch.ones(3, len(model.encoder.gate_names)), part="encoder")
    with raises(ValueError, "a forced (B, G) gate mask has B = 3 rows but the batch has 1 utterance(s); "
                            "force a (G,) mask"):
        model.encode(torch.randn(1, 60, 20), torch.tensor([60]))


def decode_bad_gates(ctx: Ctx) -> None:
    for bad in ("1.5", "half"):
        with raises(ValueError, f"--gates '{bad}' must be predicted, on, off, a sparsity in [0, 1] or a pattern .json"):
            decode.parse_gates(bad)


