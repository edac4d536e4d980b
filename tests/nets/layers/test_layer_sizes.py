"""LayerSizes / DecoderLayerSizes: the checked YAML form of what each pruned layer kept."""

import re

import pytest

from espnet_dynprune.nets.layers.layer_sizes import DecoderLayerSizes, LayerSizes

WHERE = "encoder_conf layer_sizes[3]"


@pytest.mark.parametrize(
    "entry, names",
    [
        ({"ffn_units": 3}, ["unknown keys ['ffn_units']"]),
        ({"ffn1_units": 4, "heads": [1]}, ["unknown keys ['heads']"]),
        ({"ffn1_units": -1}, [".ffn1_units", "-1"]),
        ({"ffn2_units": 2.5}, [".ffn2_units", "2.5"]),
        ({"cgmlp_channels": True}, [".cgmlp_channels", "True"]),
        ({"cgmlp_channels": "8"}, [".cgmlp_channels"]),
        ({"attn_qk": 8, "attn_vo": [8]}, [".attn_qk", "one per head"]),
        ({"attn_qk": [8], "attn_vo": 8}, [".attn_vo", "one per head"]),
        ({"attn_qk": [8], "attn_vo": [-2]}, [".attn_vo", "[-2]"]),
        ({"attn_qk": [8, 8], "attn_vo": [8]}, ["attn_qk and attn_vo", "[8, 8] and [8]"]),
        ({"attn_qk": [8, 3], "attn_vo": [8, 0]}, ["attn_qk and attn_vo", "at least one value dim", "[8, 0]"]),
        ([8, 8], ["must be a mapping"]),
    ],
)
def test_from_dict_errors_name_the_entry_and_the_key(entry, names):
    with pytest.raises(ValueError) as error:
        LayerSizes.from_dict(entry, WHERE)
    message = str(error.value)
    assert WHERE in message
    for name in names:
        assert name in message, message


def test_from_dict_rejects_booleans_in_head_lists_as_it_does_for_counts():
    """YAML reads ``yes``/``true`` as booleans; ``cgmlp_channels: true`` is refused, ``attn_qk: [true]``
    must be too (it would silently keep 1 dim)."""
    with pytest.raises(ValueError, match=re.escape(f"{WHERE}.attn_qk")):
        LayerSizes.from_dict({"attn_qk": [True, 8], "attn_vo": [8, 8]}, WHERE)


def test_from_dict_round_trips_as_dict():
    entry = {"ffn1_units": 5, "attn_qk": [8, 0], "attn_vo": [1, 8], "cgmlp_channels": 3, "ffn2_units": 0}
    sizes = LayerSizes.from_dict(entry, WHERE)
    assert sizes.as_dict() == entry and sizes.has_attention
    assert LayerSizes.from_dict(sizes.as_dict(), WHERE) == sizes
    empty = LayerSizes.from_dict({}, WHERE)  # every key has a default: an entirely removed layer
    assert empty == LayerSizes() and not empty.has_attention


@pytest.mark.parametrize(
    "entry, names",
    [
        ({"ffn1_units": 3}, ["unknown keys ['ffn1_units']"]),
        ({"self_attn_qk": [8], "self_attn_vo": [8, 8]}, ["self_attn_qk and self_attn_vo", "[8] and [8, 8]"]),
        ({"src_attn_qk": [2], "src_attn_vo": [0]}, ["src_attn_qk and src_attn_vo", "at least one value dim"]),
        ({"src_attn_vo": [True]}, [".src_attn_vo"]),
        ({"ffn_units": -4}, [".ffn_units", "-4"]),
    ],
)
def test_decoder_sizes_errors_name_the_entry_and_the_key(entry, names):
    where = "decoder_conf layer_sizes[0]"
    with pytest.raises(ValueError) as error:
        DecoderLayerSizes.from_dict(entry, where)
    message = str(error.value)
    assert where in message
    for name in names:
        assert name in message, message


def test_decoder_sizes_round_trip_as_dict():
    entry = {"self_attn_qk": [], "self_attn_vo": [], "src_attn_qk": [0, 8], "src_attn_vo": [3, 8], "ffn_units": 7}
    sizes = DecoderLayerSizes.from_dict(entry, "x")
    assert sizes.as_dict() == entry and DecoderLayerSizes.from_dict(sizes.as_dict(), "x") == sizes
