import pytest

from espnet_dynprune.analysis.owsm_architecture import build_owsm, owsm_token_list
from espnet_dynprune.nets.context_vocabulary import ContextVocabulary


def test_token_list_has_owsm_v31_layout():
    tokens = owsm_token_list()
    assert len(tokens) == 50002 and len(set(tokens)) == 50002
    expected = {"<na>": 2, "<nospeech>": 3, "<asr>": 155, "<notimestamps>": 181, "<0.00>": 182,
                "<30.00>": 1682, "<sos>": 49999, "<eos>": 50000, "<sop>": 50001}
    assert {t: tokens.index(t) for t in expected} == expected
    vocabulary = ContextVocabulary(tokens)
    assert len(vocabulary.languages) == 151 and len(vocabulary.tasks) == 26
    assert "<st_pol>" not in tokens and "<fra>" in vocabulary.languages


def test_base_has_the_published_parameter_count():
    model = build_owsm("base")
    count = sum(p.numel() for p in model.parameters())
    assert count == 101_182_628  # OWSM v3.1 base: 101.18 M with 80 mels and 50002 tokens
    assert type(model.encoder).__name__ == "EBranchformerEncoder" and len(model.decoder.decoders) == 6


def test_unknown_size_is_named():
    with pytest.raises(ValueError, match=r"unknown OWSM v3.1 size 'huge'; choose from \['1b', 'base', 'small'\]"):
        build_owsm("huge")
