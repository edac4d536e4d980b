"""ContextVocabulary finds languages and tasks by the token-list layout, 3- or 2-letter codes."""

from __future__ import annotations

import pytest
import torch

from espnet_dynprune.nets.context_vocabulary import ContextVocabulary

#: An OWSM-v1-style list: two-letter language codes.
V1 = ["<blank>", "<unk>", "<na>", "<nospeech>", "<en>", "<ja>", "<asr>", "<st_en>", "<st_ja>", "<notimestamps>",
      "<0.00>", "<30.00>", "▁a", "<sos>", "<eos>", "<sop>"]


def test_owsm_v1_two_letter_languages_are_found() -> None:
    vocabulary = ContextVocabulary(V1)
    assert vocabulary.languages == ["<en>", "<ja>"] and vocabulary.tasks == ["<asr>", "<st_en>", "<st_ja>"]
    assert vocabulary.symbol_indices("<ja>", "<st_en>") == (1, 1)
    ids = torch.tensor([V1.index("<en>"), V1.index("<ja>")]), torch.tensor([V1.index("<asr>"), V1.index("<st_ja>")])
    language, task = vocabulary.lookup(*ids)
    assert language.tolist() == [0, 1] and task.tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"expected a language symbol but found '<asr>'; valid: <en> <ja>"):
        vocabulary.lookup(torch.tensor([V1.index("<asr>")]), torch.tensor([V1.index("<asr>")]))


def test_a_token_list_without_the_layout_has_no_context() -> None:
    vocabulary = ContextVocabulary(["<blank>", "<unk>", "a", "<sos>"])
    assert vocabulary.languages == [] and vocabulary.tasks == []
