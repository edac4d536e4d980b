"""A tiny S2T model (dynprune by default) built the way ESPnet builds it (S2TTask.build_model)."""

import torch

from espnet_dynprune.registration import register_s2t
from tests.builders.tiny_nets import ASR, DEU, FRA, ST_ENG, TOKENS


def s2t_args(encoder_conf=None, decoder_conf=None, model_conf=None, decoder="transformer_dynprune",
             model="dynprune", encoder="e_branchformer_dynprune"):
    """The arguments ``s2t_train`` would save in ``config.yaml`` for a tiny model."""
    register_s2t()
    from espnet2.tasks.s2t import S2TTask

    enc = {"output_size": 32, "use_ffn": True, "macaron_ffn": True, "num_blocks": 2,
           "attention_layer_type": "selfattn", "pos_enc_layer_type": "abs_pos",
           "linear_units": 64, "cgmlp_linear_units": 64, "dropout_rate": 0.0,
           **(encoder_conf or {})}
    dec = {"num_blocks": 2, "linear_units": 64, "dropout_rate": 0.0, **(decoder_conf or {})}
    argv = ["--model", model, "--encoder", encoder, "--decoder", decoder,
            "--input_size", "20", "--token_list", "unused"]
    for key, conf in (("--encoder_conf", enc), ("--decoder_conf", dec), ("--model_conf", model_conf or {})):
        for k, v in conf.items():
            argv += [key, f"{k}={v}"]
    args = S2TTask.get_parser().parse_args(argv)
    args.token_list = list(TOKENS)
    return args


def build_model(*args, **kwargs):
    """A tiny model built by ``S2TTask.build_model`` (arguments as :func:`s2t_args`)."""
    from espnet2.tasks.s2t import S2TTask

    return S2TTask.build_model(s2t_args(*args, **kwargs))


def batch(size=2, seed=0):
    """A random batch in ESPnet's collated form (-1 padding), languages/tasks mixed."""
    g = torch.Generator().manual_seed(seed)
    langs, tasks = [FRA, DEU], [ASR, ST_ENG]
    text = torch.full((size, 5), -1)
    for i in range(size):
        text[i, :5 - i % 2] = torch.tensor([langs[i % 2], tasks[i % 2], 9, 10 + i % 3, 11])[: 5 - i % 2]
    return {
        "speech": torch.randn(size, 60, 20, generator=g),
        "speech_lengths": torch.tensor([60 - 7 * i for i in range(size)]),
        "text": text,
        "text_lengths": (text >= 0).sum(1),
        "text_prev": torch.full((size, 1), 2),
        "text_prev_lengths": torch.ones(size, dtype=torch.long),
        "text_ctc": text[:, 3:].clone(),
        "text_ctc_lengths": (text[:, 3:] >= 0).sum(1),
    }
