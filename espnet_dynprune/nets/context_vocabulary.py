"""Language and task symbols of an OWSM token list (or Whisper's prompt tokens), as gate-predictor indices.

OWSM prefixes every target with ``<lang><task>`` (e.g. ``<fra><st_eng>``).
The context-aware gate predictor embeds these two symbols; this module maps
token ids and symbols to embedding rows. A target that carries something else
where they belong (``<na>``, as in ESPnet's own test data, or any other token)
is decided with the predictor's "not known" context and reported once per
symbol; a symbol a user asks for by name must exist. Its lookup tables are
non-persistent buffers: they follow the model across devices but add no
state-dict keys.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import torch

from espnet_dynprune.gating.gate_predictor import UNKNOWN
from espnet_dynprune.owsm.symbols import SOS
from espnet_dynprune.owsm.token_layout import ContextSymbols, context_symbols


class ContextVocabulary(torch.nn.Module):
    """The language and task symbols found in a token list.

    Languages and tasks are read from the OWSM token-list layout
    (:func:`espnet_dynprune.owsm.token_layout.context_symbols`), so both OWSM v3.1's
    ``<fra>``/``<st_eng>`` and OWSM v1's ``<en>``/``<st_en>`` are found; a token
    list without ``<asr>`` has none (the gate predictor then reports it).

    Args:
        token_list: the model's tokens, index = token id.
        sos_symbol: start-of-sentence symbol (the decoder prompt's anchor).
        symbols: the languages and tasks, where the token list does not have OWSM's layout
            (Whisper's ``<|fr|>`` and ``<|transcribe|>``).
    """

    def __init__(
        self, token_list: Sequence[str], sos_symbol: str = SOS, symbols: Optional[ContextSymbols] = None
    ) -> None:
        super().__init__()
        self.token_list = list(token_list)
        if sos_symbol not in self.token_list:
            raise ValueError(f"the token list has no start symbol {sos_symbol!r}")
        self.sos_id = self.token_list.index(sos_symbol)
        symbols = symbols or context_symbols(self.token_list)
        self.languages, self.tasks = list(symbols.languages), list(symbols.tasks)
        self._language_index = {t: i for i, t in enumerate(self.languages)}
        self._task_index = {t: i for i, t in enumerate(self.tasks)}
        self.register_buffer("language_table", self._table(self._language_index), persistent=False)
        self.register_buffer("task_table", self._table(self._task_index), persistent=False)
        self._reported: set[tuple[str, str]] = set()  # (what, symbol) already logged as not known

    def _table(self, index: dict[str, int]) -> torch.Tensor:
        """(V,) long table: token id -> embedding index, UNKNOWN for other tokens."""
        table = torch.full((len(self.token_list),), UNKNOWN, dtype=torch.long)
        for token_id, symbol in enumerate(self.token_list):
            table[token_id] = index.get(symbol, UNKNOWN)
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
        """(B,) token ids -> (B,) language and task indices, UNKNOWN where a token is no such symbol."""
        language = self._indices(lang_tokens, self.language_table, "language", self.languages)
        return language, self._indices(task_tokens, self.task_table, "task", self.tasks)

    def _indices(self, tokens: torch.Tensor, table: torch.Tensor, what: str, valid: list[str]) -> torch.Tensor:
        inside = (tokens >= 0) & (tokens < table.numel())
        indices = torch.where(inside, table[tokens.clamp(0, table.numel() - 1)], UNKNOWN)
        unknown = indices == UNKNOWN
        if bool(unknown.any()):
            self._report(tokens[unknown].tolist(), what, valid)
        return indices

    def _report(self, tokens: list[int], what: str, valid: list[str]) -> None:
        """Log once per symbol that it stands where a language/task belongs."""
        for token in sorted(set(tokens)):
            name = self.token_list[token] if 0 <= token < len(self.token_list) else str(token)
            if (what, name) not in self._reported:
                self._reported.add((what, name))
                logging.warning(
                    f"found {name!r} where a {what} symbol belongs: decided with the gate predictor's "
                    f"\"not known\" context (valid: {' '.join(valid)})"
                )


MULTILINGUAL_VOCAB = 51865  # Whisper's rule: a vocabulary this large is a multilingual model's
SOT = "<|startoftranscript|>"
TASKS = ("<|transcribe|>", "<|translate|>")


def whisper_context_vocabulary(vocab_size: int) -> ContextVocabulary:
    """Whisper's language and task tokens, with the ids openai-whisper's tokenizer gives them."""
    from whisper.tokenizer import LANGUAGES, get_tokenizer

    tokenizer = get_tokenizer(multilingual=vocab_size >= MULTILINGUAL_VOCAB)
    last = max(tokenizer.translate, tokenizer.transcribe)
    if vocab_size <= last:
        raise ValueError(
            f"decoder_conf gate_predictor: context reads Whisper's language and task tokens, but a vocabulary "
            f"of {vocab_size} tokens (a re-initialised embedding) has none (ids {tokenizer.sot} to {last}): "
            f"use gate_predictor: speech or none"
        )
    hf = tokenizer.tokenizer
    known = min(vocab_size, len(hf))
    names = hf.convert_ids_to_tokens(list(range(known))) + [f"<|id {i}|>" for i in range(known, vocab_size)]
    symbols = ContextSymbols(tuple(f"<|{code}|>" for code in LANGUAGES), TASKS)
    return ContextVocabulary(names, SOT, symbols)
