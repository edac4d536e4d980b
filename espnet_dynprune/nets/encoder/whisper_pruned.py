"""The Whisper encoder that static structured pruning exports: smaller for real.

Registered as ``encoder: whisper_pruned`` (ASR and S2T tasks). Its ``encoder_conf`` is the unpruned
model's (ESPnet's ``whisper`` keys) plus ``whisper_dims``, the unpruned encoder's dimensions, and
``layer_sizes``, one entry per block saying what it kept
(:class:`~espnet_dynprune.nets.layers.layer_sizes.WhisperBlockSizes`): it rebuilds from its config
alone, and its model file holds every weight (``whisper_model`` names the model it was pruned from
and is not read; without ``whisper_dims`` it is, as by ``whisper_local``, for the architecture). The forward pass is
ESPnet's own ``whisper_encode``; only the blocks differ
(:class:`~espnet_dynprune.nets.layers.whisper_pruned_block.PrunedWhisperBlock`). The
convolutions, the positional embedding and the final norm are not pruned.

Loading is strict despite ESPnet's ``strict=False`` (:func:`~espnet_dynprune.nets.layers.layer_sizes.check_loaded_sizes`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import torch
from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder
from typeguard import typechecked

from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
from espnet_dynprune.nets.layers.layer_sizes import WhisperBlockSizes, check_loaded_sizes, read_layer_sizes
from espnet_dynprune.nets.layers.whisper_pruned_block import PrunedWhisperBlock
from espnet_dynprune.whisper.local_checkpoint import encoder_architecture


def whisper_dims_of(encoder: OpenAIWhisperEncoder) -> dict[str, int]:
    """The ``whisper_dims`` of an ESPnet Whisper encoder (openai-whisper's ``ModelDimensions`` names)."""
    audio = encoder.encoders
    return {"n_mels": audio.conv1.in_channels, "n_audio_ctx": audio.positional_embedding.size(0),
            "n_audio_state": encoder.output_size(), "n_audio_head": audio.blocks[0].attn.n_head,
            "n_audio_layer": len(audio.blocks)}


class WhisperPrunedEncoder(LocalWhisperEncoder):
    """ESPnet's Whisper encoder with its blocks at the sizes static pruning left them.

    Args:
        input_size, dropout_rate, whisper_model, download_dir, use_specaug, specaug_conf,
        do_pad_trim: as ESPnet's ``whisper`` encoder.
        whisper_dims: the unpruned encoder's dimensions (``n_mels``, ``n_audio_ctx``,
            ``n_audio_state``, ``n_audio_head``, ``n_audio_layer``); None: read ``whisper_model``.
        layer_sizes: per block, what it kept (``attn_qk``, ``attn_vo``, ``mlp_units``).
    """

    @typechecked
    def __init__(
        self,
        input_size: int = 1,
        dropout_rate: float = 0.0,
        whisper_model: str = "small",
        download_dir: Optional[str] = None,
        use_specaug: bool = False,
        specaug_conf: Optional[dict] = None,
        do_pad_trim: bool = False,
        whisper_dims: Optional[Mapping[str, int]] = None,
        layer_sizes: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        conf = dict(input_size=input_size, dropout_rate=dropout_rate, whisper_model=whisper_model,
                    download_dir=download_dir, use_specaug=use_specaug, specaug_conf=specaug_conf,
                    do_pad_trim=do_pad_trim)
        if whisper_dims is None:
            super().__init__(**conf)
        else:
            with encoder_architecture(whisper_model, whisper_dims, type(self).__name__):
                OpenAIWhisperEncoder.__init__(self, **conf)  # past whisper_local's file check: no file is read
        blocks = self.encoders.blocks
        self.whisper_dims = dict(whisper_dims) if whisper_dims is not None else whisper_dims_of(self)
        self.layer_sizes = read_layer_sizes(WhisperBlockSizes, layer_sizes, "encoder", len(blocks))
        d = self.output_size()
        head_dim = d // blocks[0].attn.n_head
        self.encoders.blocks = torch.nn.ModuleList(PrunedWhisperBlock(d, s, head_dim) for s in self.layer_sizes)
        self._register_load_state_dict_pre_hook(check_loaded_sizes("encoder", "encoders.blocks"), with_module=True)

    def pruned_conf(self) -> dict[str, Any]:
        """The ``encoder_conf`` keys pruning adds (what rebuilds this encoder with ESPnet's keys)."""
        return {"whisper_dims": dict(self.whisper_dims), "layer_sizes": [s.as_dict() for s in self.layer_sizes]}
