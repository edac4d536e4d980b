"""Reduced precision at inference, per network part: dynamic int8 Linear layers or bf16 weights.

Why per part: the encoder runs large matrix products once per utterance, the decoder small,
memory-bound ones (the vocabulary projection above all) at every beam step, so each may gain from
a different format and each costs accuracy differently; both are measured, not assumed.

- ``int8``: torch's dynamic quantisation of the part's ``Linear`` layers (int8 weights, activations
  quantised on the fly per call; openai-whisper's ``Linear`` and a vocabulary projection tied to the
  token embedding included), the call ESPnet's own ``Speech2Text(quantize_s2t_model=True)``
  makes for the whole model. ``torch.ao.quantization`` is deprecated in torch 2.11 in favour of
  torchao; it stays here because its fbgemm kernels are the ones measured on this CPU, it needs no
  new dependency, and ESPnet calls the same function. Activations are scaled per call over the whole
  input, so a batched decoding's hypotheses can differ from one-at-a-time ones (the batch's other
  utterances move the scale).
- ``bf16``: the part's weights in bfloat16. Floating tensors entering it are cast to bfloat16 and
  the scores (or features) leaving it back to float32, so the front end, the feature normaliser,
  CTC, the other part and the beam search's score sums stay float32.
"""

from __future__ import annotations

import functools
from typing import Any, Tuple

import torch

from espnet_dynprune.inference.batched_decoding import dynprune_decoder

PRECISIONS = ("fp32", "bf16", "int8")
#: The methods through which ESPnet (and this project's batched search) enter each part.
ENTRIES = {"encoder": ("forward",),
           "decoder": ("forward", "forward_one_step", "score", "batch_score", "prepare_source", "step")}


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(dtype)
    return value


def _bf16_entry(method):
    """``method`` with floating tensor arguments in bfloat16 and, when it returns a tuple, its first
    element (the scores or features) in float32; what it returns besides (caches) stays bfloat16."""

    @functools.wraps(method)
    def entry(*args, **kwargs):
        out = method(*(_cast(a, torch.bfloat16) for a in args),
                     **{k: _cast(v, torch.bfloat16) for k, v in kwargs.items()})
        if isinstance(out, tuple) and out:
            first = out[0]
            first = (tuple(_cast(x, torch.float32) for x in first) if isinstance(first, tuple)
                     else _cast(first, torch.float32))
            return (first, *out[1:])
        return out

    return entry


def parse_precisions(value: str) -> Tuple[str, str]:
    """``"bf16:int8"`` -> ``("bf16", "int8")`` (encoder, decoder); ValueError naming the value."""
    pair = tuple(value.split(":"))
    if len(pair) != 2 or not set(pair) <= set(PRECISIONS):
        raise ValueError(f"{value!r} is not encoder:decoder precisions of {PRECISIONS}")
    return pair


DecodeConfig = Tuple[int, str, str]  # batch size, encoder precision, decoder precision


def parse_config(value: str) -> DecodeConfig:
    """``"8:fp32:int8"`` -> ``(8, "fp32", "int8")``; ``"8"`` -> ``(8, "fp32", "fp32")``."""
    batch, _, precisions = value.partition(":")
    try:
        if not batch.isdigit() or int(batch) < 1:
            raise ValueError(batch)
        return (int(batch), *parse_precisions(precisions or "fp32:fp32"))
    except ValueError:
        raise ValueError(f"{value!r} is not BATCH[:ENCODER:DECODER] (a batch size >= 1, precisions "
                         f"of {PRECISIONS})") from None


def config_name(config: DecodeConfig) -> str:
    return ":".join(map(str, config))


def _plain_linears(module: torch.nn.Module) -> None:
    """openai-whisper's ``Linear`` is an ``nn.Linear`` that casts its weights to the input's dtype (the
    same computation in float32), but dynamic quantisation takes only modules whose type is exactly
    ``nn.Linear``: those become plain ones."""
    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear) and type(sub).__module__ == "whisper.model":
            sub.__class__ = torch.nn.Linear


def set_precision(module: torch.nn.Module, part: str, precision: str) -> torch.nn.Module:
    """Convert ``module`` (the model's ``part``, ``encoder`` or ``decoder``) in place to ``precision``."""
    if part not in ENTRIES:
        raise ValueError(f"part {part!r} is not one of {sorted(ENTRIES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"{part}_precision {precision!r} is not one of {PRECISIONS}")
    if precision == "int8":
        untie = getattr(module, "untie_output_projection", None)
        if untie is not None:  # a vocabulary projection tied to the embedding: int8 too
            untie()
        _plain_linears(module)
        torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    elif precision == "bf16":
        module.to(torch.bfloat16)
        for name in ENTRIES[part]:
            if hasattr(module, name):
                setattr(module, name, _bf16_entry(getattr(module, name)))
    module.precision = precision
    return module


def apply_precision(s2t, encoder: str = "fp32", decoder: str = "fp32") -> None:
    """Set both parts of a loaded ``Speech2Text``. A stock decoder's ungated twin (batched decoding)
    is built first, from the full-precision weights, and converted with it."""
    model = s2t.s2t_model
    decoders = [model.decoder]
    if decoder != "fp32":
        try:
            twin = dynprune_decoder(s2t)
        except ValueError:  # a decoder the batched search does not run: decoded one at a time only
            twin = model.decoder
        if twin is not model.decoder:
            decoders.append(twin)
    set_precision(model.encoder, "encoder", encoder)
    for module in decoders:
        set_precision(module, "decoder", decoder)
