"""ESPnet's ``Speech2Text`` that also tells the encoder the language and task.

Stock ``Speech2Text`` puts ``<lang><task>`` into the decoder's prompt but calls
``model.encode(speech, lengths)`` with no context, so the encoder's gate
predictor would not know them. For a ``model: dynprune`` this subclass wraps
each call in ``model.inference_context``. Registration installs it as
``espnet2.bin.s2t_inference.Speech2Text``, so ``python -m
espnet2.bin.s2t_inference`` and s2t.sh use it unchanged.

``lang_sym=None`` (in the constructor or the call) means "identify the language
first": ESPnet's ``Speech2Language`` computation runs on the same model (gates
decided with the "not known" context), and the utterance is then decoded, and
pruned, with the language it found. This works for stock OWSM models too.

Every model it loads, stock or not, also gets checked input: a truncated model
file, an unknown ``lang_sym``/``task_sym`` and a waveform that is not speech
(:mod:`espnet_dynprune.inference.waveform`) fail naming what is wrong, and audio longer
than the model's input window is reported instead of cut without a word.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import List, Optional

import numpy as np
import torch
from espnet2.bin.s2t_inference import Speech2Text

from espnet_dynprune.inference.batched_decoding import batch_decode, why_not_batchable
from espnet_dynprune.inference.waveform import check_waveform, warn_if_cut
from espnet_dynprune.models.dynprune import DynPruneS2TModel
from espnet_dynprune.nets.checkpoint import check_readable
from espnet_dynprune.owsm.token_layout import context_symbols

STOCK_DEFAULT_LANGUAGE = "<eng>"  # Speech2Text's own default, which it type-checks as a str


class DynPruneSpeech2Text(Speech2Text):
    """Speech2Text for dynamically pruned OWSM models (same arguments).

    Args:
        lang_sym: as in ESPnet, or None to identify each utterance's language.
        *args, **kwargs: everything ``Speech2Text`` takes.
    """

    def __init__(self, *args, lang_sym: Optional[str] = STOCK_DEFAULT_LANGUAGE, **kwargs) -> None:
        model_file = kwargs.get("s2t_model_file", args[1] if len(args) > 1 else None)
        if model_file is not None:
            check_readable(model_file)
        super().__init__(*args, lang_sym=lang_sym or STOCK_DEFAULT_LANGUAGE, **kwargs)
        self.lang_sym = lang_sym
        self._language_detector = None  # a LoadedSpeech2Language, made when first needed
        self._symbols = context_symbols(self.s2t_model.token_list)  # read once: every call checks
        self._check_symbols(self.lang_sym, self.task_sym)

    def _check_symbols(self, language: Optional[str], task: str) -> None:
        """Unknown ``<lang>``/``<task>`` symbols raise listing the model's (ESPnet: a bare KeyError)."""
        for given, kind, valid in ((language, "language", self._symbols.languages), (task, "task", self._symbols.tasks)):
            if given is not None and given not in self.converter.token2id:
                raise ValueError(f"unknown {kind} symbol {given!r}; valid: {' '.join(valid)}")

    def _speech(self, speech) -> np.ndarray:
        """Checked speech, with a word when it is longer than the model's input window."""
        conf = self.preprocessor_conf
        array = check_waveform(speech, conf["fs"])
        warn_if_cut(array.size, conf["fs"], conf["speech_length"])
        return array

    def identify_language(self, speech) -> str:
        """The most likely language symbol of ``speech`` (ESPnet's Speech2Language)."""
        return self._identify(self._speech(speech))

    def _identify(self, speech: np.ndarray) -> str:
        if self._language_detector is None:
            # imported here: language_detection imports ESPnet's inference module, whose import runs this one
            from espnet_dynprune.inference.language_detection import LoadedSpeech2Language

            self._language_detector = LoadedSpeech2Language(self)
        model = self.s2t_model
        if isinstance(model, DynPruneS2TModel):
            with model.inference_context(None, None):
                found = self._language_detector(speech)
        else:
            found = self._language_detector(speech)
        symbol, prob = found[0]
        logging.info(f"identified language {symbol} (p={prob:.3f})")
        return symbol

    def __call__(
        self,
        speech,
        text_prev=None,
        lang_sym: Optional[str] = None,
        task_sym: Optional[str] = None,
        predict_time: Optional[bool] = None,
    ):
        speech = self._speech(speech)
        language = lang_sym if lang_sym is not None else self.lang_sym
        if language is None:
            language = self._identify(speech)
        task = task_sym if task_sym is not None else self.task_sym
        self._check_symbols(language, task)
        model = self.s2t_model
        if not isinstance(model, DynPruneS2TModel):
            return super().__call__(speech, text_prev, language, task, predict_time)
        with model.inference_context(language, task):
            return super().__call__(speech, text_prev, language, task, predict_time)

    def batch_decode(
        self,
        speech,
        speech_lengths=None,
        text_prev=None,
        text_prev_lengths=None,
        lang_sym: Optional[str] = None,
        task_sym: Optional[str] = None,
        predict_time: Optional[bool] = None,
        *,
        encoder_batch_size: Optional[int] = None,
    ) -> List[list]:
        """ESPnet's ``batch_decode``: several utterances at once, per utterance what ``__call__``
        returns. ``speech``: a list of waveforms, or a padded (utterances, samples) array with
        optional ``speech_lengths``. One language and task for all of them (language identification
        runs per utterance: use ``__call__`` for that).

        Decoded by :mod:`espnet_dynprune.inference.batched_decoding` (source K/V once per utterance, each
        row its own gate pattern, the encoder told the language and task) whenever that gives
        ESPnet's results; otherwise (CTC, LM or length bonus in the search, timestamps, a previous
        text) by ESPnet's own ``batch_decode`` where this ESPnet has one. ``encoder_batch_size``:
        utterances per encoder call in the former (None: all at once).
        """
        arrays = [self._speech(s) for s in utterances(speech, speech_lengths)]
        language = lang_sym if lang_sym is not None else self.lang_sym
        if language is None:
            raise ValueError("batch_decode needs lang_sym: language identification runs one utterance at a time")
        task = task_sym if task_sym is not None else self.task_sym
        self._check_symbols(language, task)
        model = self.s2t_model
        context = model.inference_context(language, task) if isinstance(model, DynPruneS2TModel) else nullcontext()
        reason = why_not_batchable(self, text_prev, predict_time)
        stock = getattr(super(), "batch_decode", None)
        if reason is None or stock is None:
            if reason is not None:
                raise ValueError(f"{reason}: use batch_size 1")
            return batch_decode(self, arrays, language, task, context, encoder_batch_size)
        with context:
            return stock(arrays, None, text_prev, text_prev_lengths, language, task, predict_time)


def utterances(speech, lengths=None) -> list:
    """The waveforms of ``batch_decode``'s ``speech``: a list as given, or the rows of a padded
    (utterances, samples[, 1]) array, each cut to its length when ``lengths`` are given."""
    if isinstance(speech, (list, tuple)):
        return list(speech)
    rows = torch.as_tensor(speech)
    if rows.dim() == 3 and rows.size(2) == 1:
        rows = rows.squeeze(2)
    if rows.dim() != 2:
        raise ValueError(f"speech of shape {tuple(rows.shape)}: give a list of waveforms or (utterances, samples)")
    if lengths is None:
        return list(rows)
    return [row[: int(n)] for row, n in zip(rows, torch.as_tensor(lengths).tolist(), strict=True)]
