"""Per-part reduced precision: int8 Linear layers or bf16 weights where asked, float32 elsewhere,
decoding through ESPnet's Speech2Text one at a time and batched (a stock decoder's twin too)."""

from __future__ import annotations

import pytest
import torch

from espnet_dynprune.inference import batched_decoding, precision
from espnet_dynprune.recipe.decode import load_speech2text
from tests.builders.tiny_decoding import noise_speeches, write_tiny_model


@pytest.fixture(scope="module", params=[True, False], ids=["dynprune", "stock"])
def model_files(request, tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model"), dynprune=request.param)


def _kinds(module: torch.nn.Module) -> set:
    """int8 or float for each Linear layer of ``module``."""
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    return {"int8" if isinstance(m, dynamic) else "float" for m in module.modules()
            if isinstance(m, (torch.nn.Linear, dynamic))}


def test_int8_replaces_the_linear_layers_of_that_part_only(model_files):
    s2t = load_speech2text(*model_files, beam_size=2, maxlenratio=0.5, decoder_precision="int8")
    model = s2t.s2t_model
    assert _kinds(model.decoder) == {"int8"} and _kinds(model.encoder) == {"float"}
    assert _kinds(batched_decoding.dynprune_decoder(s2t)) == {"int8"}  # a stock model's twin too
    for speech in noise_speeches():
        assert s2t(speech, lang_sym="<fra>", task_sym="<asr>")[0][2]
    # no equality with one at a time: int8 activations are scaled per call, over the whole batch
    assert len(s2t.batch_decode(noise_speeches(), lang_sym="<fra>", task_sym="<asr>")) == 2


def test_bf16_keeps_float32_at_the_part_boundaries(model_files):
    s2t = load_speech2text(*model_files, beam_size=2, maxlenratio=0.5, encoder_precision="bf16", decoder_precision="bf16")
    model = s2t.s2t_model
    assert {p.dtype for p in model.encoder.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in model.frontend.parameters()} | {p.dtype for p in model.ctc.parameters()} <= {torch.float32}
    speech = torch.as_tensor(noise_speeches()[0])[None]
    with torch.no_grad():
        memory, _ = model.encode(speech, torch.tensor([speech.size(1)]))
        assert memory.dtype == torch.float32
        ys = torch.tensor([[model.sos, s2t.converter.token2id["<fra>"], s2t.converter.token2id["<asr>"]]])
        logp, _ = model.decoder.batch_score(ys, [None], memory)
    assert logp.dtype == torch.float32 and torch.isfinite(logp).any()
    assert len(s2t(noise_speeches()[1], lang_sym="<fra>", task_sym="<asr>")) == 1
    assert len(s2t.batch_decode(noise_speeches(), lang_sym="<fra>", task_sym="<asr>")) == 2


def test_unknown_precisions_and_parts_are_named():
    with pytest.raises(ValueError, match=r"decoder_precision 'fp16' is not one of \('fp32', 'bf16', 'int8'\)"):
        precision.set_precision(torch.nn.Linear(2, 2), "decoder", "fp16")
    with pytest.raises(ValueError, match="part 'ctc' is not one of"):
        precision.set_precision(torch.nn.Linear(2, 2), "ctc", "int8")


def test_decode_configurations_read_and_name_batch_and_precisions():
    assert precision.parse_config("8") == (8, "fp32", "fp32")
    assert precision.config_name(precision.parse_config("8:fp32:int8")) == "8:fp32:int8"
    for bad in ("8:fp16:fp32", "0", "x:fp32:fp32"):
        with pytest.raises(ValueError, match=rf"'{bad}' is not BATCH\[:ENCODER:DECODER\]"):
            precision.parse_config(bad)
