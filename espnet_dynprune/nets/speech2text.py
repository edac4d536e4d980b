"""ESPnet's ``Speech2Text`` that also tells the encoder the language and task.

Stock ``Speech2Text`` puts ``<lang><task>`` into the decoder's prompt but calls
``model.encode(speech, lengths)`` with no context, so the encoder's gate
predictor would not know them. For a ``model: dynprune`` this subclass wraps
each call in ``model.inference_context``; for any other model it is the stock
class. Registration installs it as ``espnet2.bin.s2t_inference.Speech2Text``,
so ``python -m espnet2.bin.s2t_inference`` and s2t.sh use it unchanged.
"""

from __future__ import annotations

from typing import Optional

from espnet2.bin.s2t_inference import Speech2Text

from espnet_dynprune.nets.dynprune_s2t_model import DynPruneS2TModel


class DynPruneSpeech2Text(Speech2Text):
    """Speech2Text for dynamically pruned OWSM models (same arguments)."""

    def __call__(
        self,
        speech,
        text_prev=None,
        lang_sym: Optional[str] = None,
        task_sym: Optional[str] = None,
        predict_time: Optional[bool] = None,
    ):
        model = self.s2t_model
        if not isinstance(model, DynPruneS2TModel):
            return super().__call__(speech, text_prev, lang_sym, task_sym, predict_time)
        language = lang_sym if lang_sym is not None else self.lang_sym
        task = task_sym if task_sym is not None else self.task_sym
        with model.inference_context(language, task):
            return super().__call__(speech, text_prev, language, task, predict_time)
