"""Language and task symbols of an OWSM token list, as gate-predictor indices.

OWSM prefixes every target with ``<lang><task>`` (e.g. ``<fra><st_eng>``).
The context-aware gate predictor embeds these two symbols; this module maps
token ids and symbols to embedding rows and names the valid choices when an
utterance carries something else. Its lookup tables are non-persistent
buffers: they follow the model across devices but add no state-dict keys.
"""

from __future__ import annotations

from typing import Sequence

import torch

from espnet_dynprune.owsm.symbols import SOS
from espnet_dynprune.owsm.token_layout import context_symbols


class ContextVocabulary(torch.nn.Module):
    """The language and task symbols found in a token list.

    Languages and tasks are read from the OWSM token-list layout
    (:func:`espnet_dynprune.owsm.token_layout.context_symbols`), so both OWSM v3.1's
    ``<fra>``/``<st_eng>`` and OWSM v1's ``<en>``/``<st_en>`` are found; a token
    list without ``<asr>`` has none (the gate predictor then reports it).

    Args:
        token_list: the model's tokens, index = token id.
        sos_symbol: start-of-sentence symbol (the decoder prompt's anchor).
    """

    def __init__(self, token_list: Sequence[str], sos_symbol: str = SOS) -> None:
        super().__init__()
        self.token_list = list(token_list)
        if sos_symbol not in self.token_list:
            raise ValueError(f"the token list has no start symbol {sos_symbol!r}")
        self.sos_id = self.token_list.index(sos_symbol)
        symbols = context_symbols(self.token_list)
        self.languages, self.tasks = list(symbols.languages), list(symbols.tasks)
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
