"""ESPnet's ``Speech2Language`` over a model that is already loaded.

OWSM identifies the spoken language by scoring one decoder step from ``<sos>``
alone and reading the language symbols' probabilities (ESPnet's
``Speech2Language``). ``Speech2Text`` without a language needs exactly that
before it can put ``<lang>`` into its prompt, on the model it already holds;
building a ``Speech2Language`` from the files would load the model twice. This
subclass takes the loaded model instead and leaves the computation to ESPnet.
"""

from __future__ import annotations

from espnet2.bin.s2t_inference import Speech2Text
from espnet2.bin.s2t_inference_language import Speech2Language

from espnet_dynprune.owsm.token_layout import context_symbols


class LoadedSpeech2Language(Speech2Language):
    """``Speech2Language`` on ``speech2text``'s model, device and dtype.

    The candidates are the language symbols of the model's token list (the
    symbols between ``<nospeech>`` and ``<asr>`` in OWSM's layout), which
    ``Speech2Language`` reads as one contiguous id range.
    """

    def __init__(self, speech2text: Speech2Text, nbest: int = 1) -> None:
        # Speech2Language.__init__ would load the model from its files again.
        token_list = speech2text.s2t_model.token_list
        languages = context_symbols(token_list).languages
        if not languages:
            raise ValueError("the model's token list has no language symbols to identify")
        self.s2t_model = speech2text.s2t_model
        self.s2t_train_args = speech2text.s2t_train_args
        self.preprocessor_conf = speech2text.preprocessor_conf
        self.device = speech2text.device
        self.dtype = speech2text.dtype
        self.nbest = nbest
        self.first_lang_id = token_list.index(languages[0])
        self.last_lang_id = token_list.index(languages[-1])
        if self.last_lang_id - self.first_lang_id + 1 != len(languages):
            raise ValueError(
                f"the language symbols of the token list are not contiguous "
                f"({languages[0]} .. {languages[-1]}); Speech2Language reads one id range"
            )
