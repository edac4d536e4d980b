"""Language and task symbols of an OWSM token list, as gate-predictor indices.

OWSM v3.1 prefixes every target with ``<lang><task>`` (e.g. ``<fra><st_eng>``).
The context-aware gate predictor embeds these two symbols; this module maps
token ids and symbols to embedding rows and names the valid choices when an
utterance carries something else. Its lookup tables are non-persistent
buffers: they follow the model across devices but add no state-dict keys.
"""

from __future__ import annotations

import re
from typing import Sequence

import torch

_LANGUAGE = re.compile(r"^<[a-z]{3}>$")
_TASK = re.compile(r"^<(asr|st_[a-z]{3})>$")
_RESERVED = {"<sos>", "<eos>", "<sop>", "<unk>", "<asr>"}


class ContextVocabulary(torch.nn.Module):
    """The language and task symbols found in a token list.

    Languages are ISO 639-3 symbols (``<fra>``); tasks are ``<asr>`` and the
    ``<st_xxx>`` translation targets, as in OWSM v3.1's token list.

    Args:
        token_list: the model's tokens, index = token id.
        sos_symbol: start-of-sentence symbol (the decoder prompt's anchor).
    """

    def __init__(self, token_list: Sequence[str], sos_symbol: str = "<sos>") -> None:
        super().__init__()
        self.token_list = list(token_list)
        if sos_symbol not in self.token_list:
            raise ValueError(f"the token list has no start symbol {sos_symbol!r}")
        self.sos_id = self.token_list.index(sos_symbol)
        self.languages = [t for t in self.token_list if _LANGUAGE.match(t) and t not in _RESERVED]
        self.tasks = [t for t in self.token_list if _TASK.match(t)]
        self._language_index = {t: i for i, t in enumerate(self.languages)}
        self._task_index = {t: i for i, t in enumerate(self.tasks)}
        self.register_buffer("language_table", self._table(self._language_index), persistent=False)
        self.register_buffer("task_table", self._table(self._task_index), persistent=False)

    def _table(self, index: dict[str, int]) -> torch.Tensor:
        """(V,) long table: token id -> embedding index, -1 for other tokens."""
        table = torch.full((len(self.token_list),), -1, dtype=torch.long)
        for token_id, symbol in enumerate(self.token_list):
            table[token_id] = index.get(symbol, -1)
        return table

    def symbol_indices(self, language: str, task: str) -> tuple[int, int]:
        """Embedding indices of a ``<lang>`` and ``<task>`` symbol, or a clear error."""
        if language not in self._language_index:
            raise ValueError(
                f"unknown language symbol {language!r}; valid: {' '.join(self.languages)}"
            )
        if task not in self._task_index:
            raise ValueError(f"unknown task symbol {task!r}; valid: {' '.join(self.tasks)}")
        return self._language_index[language], self._task_index[task]

    def lookup(self, lang_tokens: torch.Tensor, task_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) token ids -> (B,) language and task indices; raises naming a bad token."""
        language = self.language_table[lang_tokens.clamp(min=0)]
        task = self.task_table[task_tokens.clamp(min=0)]
        self._check(lang_tokens, language, "language", self.languages)
        self._check(task_tokens, task, "task", self.tasks)
        return language, task

    def _check(self, tokens: torch.Tensor, indices: torch.Tensor, what: str, valid: list[str]) -> None:
        bad = (indices < 0) | (tokens < 0)
        if not bool(bad.any()):
            return
        token = int(tokens[bad.nonzero()[0, 0]])
        name = self.token_list[token] if 0 <= token < len(self.token_list) else str(token)
        raise ValueError(f"expected a {what} symbol but found {name!r}; valid: {' '.join(valid)}")
