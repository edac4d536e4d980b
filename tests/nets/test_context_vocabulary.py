"""ContextVocabulary finds languages and tasks by the token-list layout, 3- or 2-letter codes."""

from __future__ import annotations

import logging

import torch

from espnet_dynprune.gating.gate_predictor import UNKNOWN
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


def test_what_is_no_language_or_task_is_not_known_and_logged_once(caplog) -> None:
    vocabulary = ContextVocabulary(V1)
    na, asr, en = V1.index("<na>"), V1.index("<asr>"), V1.index("<en>")
    with caplog.at_level(logging.WARNING):
        language, task = vocabulary.lookup(torch.tensor([na, asr, en, na]), torch.tensor([na, asr, asr, 99]))
        vocabulary.lookup(torch.tensor([na]), torch.tensor([asr]))
    assert language.tolist() == [UNKNOWN, UNKNOWN, 0, UNKNOWN] and task.tolist() == [UNKNOWN, 0, 0, UNKNOWN]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("found '<na>' where a language symbol belongs" in m for m in messages) == 1, messages
    assert any("found '<asr>' where a language symbol belongs" in m and "valid: <en> <ja>" in m for m in messages)
    assert any("found '99' where a task symbol belongs" in m for m in messages)


def test_a_token_list_without_the_layout_has_no_context() -> None:
    vocabulary = ContextVocabulary(["<blank>", "<unk>", "a", "<sos>"])
    assert vocabulary.languages == [] and vocabulary.tasks == []
