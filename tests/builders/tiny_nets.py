"""Tiny OWSM-shaped modules with the same weights in stock and dynprune form."""

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

from espnet_dynprune.nets.context_vocabulary import ContextVocabulary
from espnet_dynprune.nets.decoder.transformer_dynprune import TransformerDynPruneDecoder
from espnet_dynprune.nets.encoder.e_branchformer_dynprune import EBranchformerDynPruneEncoder

TOKENS = ["<blank>", "<unk>", "<na>", "<nospeech>", "<deu>", "<eng>", "<fra>", "<asr>",
          "<st_eng>", "<notimestamps>", "a", "b", "c", "d", "e", "<sos>", "<eos>", "<sop>"]
SOS, EOS, FRA, DEU, ASR, ST_ENG = 15, 16, 6, 4, 7, 8

ENCODER_CONF = dict(
    output_size=32, attention_heads=4, attention_layer_type="selfattn",
    pos_enc_layer_type="abs_pos", cgmlp_linear_units=64, linear_units=64, num_blocks=2,
    use_ffn=True, macaron_ffn=True, merge_conv_kernel=7, cgmlp_conv_kernel=7,
    input_layer="conv2d", dropout_rate=0.0, positional_dropout_rate=0.0,
)
DECODER_CONF = dict(attention_heads=4, linear_units=64, num_blocks=2, dropout_rate=0.0,
                    positional_dropout_rate=0.0, self_attention_dropout_rate=0.0,
                    src_attention_dropout_rate=0.0)


def encoder_pair(extra=None, **gating):
    """(stock, dynprune) encoders with the same weights; ``extra`` overrides ENCODER_CONF keys."""
    conf = {**ENCODER_CONF, **(extra or {})}
    torch.manual_seed(0)
    stock = EBranchformerEncoder(20, **conf).eval()
    dyn = EBranchformerDynPruneEncoder(20, **gating, **conf).eval()
    dyn.load_state_dict(stock.state_dict(), strict=False)
    dyn.bind_context(ContextVocabulary(TOKENS))
    return stock, dyn


def decoder_pair(**gating):
    torch.manual_seed(0)
    stock = TransformerDecoder(len(TOKENS), 32, **DECODER_CONF).eval()
    dyn = TransformerDynPruneDecoder(len(TOKENS), 32, **gating, **DECODER_CONF).eval()
    dyn.load_state_dict(stock.state_dict(), strict=False)
    dyn.bind_context(ContextVocabulary(TOKENS))
    return stock, dyn
