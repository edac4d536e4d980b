"""Language identification on a Speech2Text's loaded model: ESPnet's Speech2Language results, no second load."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from espnet_dynprune.inference.language_detection import LoadedSpeech2Language
from espnet_dynprune.recipe.decode import load_speech2text
from tests.builders.tiny_decoding import write_tiny_model


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_model(tmp_path_factory.mktemp("model"))


def test_the_loaded_model_identifies_as_espnet_s_speech2language_from_the_files(model_files) -> None:
    from espnet2.bin.s2t_inference_language import Speech2Language

    s2t = load_speech2text(*model_files, beam_size=1)
    detector = LoadedSpeech2Language(s2t, nbest=3)
    assert detector.s2t_model is s2t.s2t_model
    tokens = s2t.s2t_model.token_list
    assert (tokens[detector.first_lang_id], tokens[detector.last_lang_id]) == ("<deu>", "<fra>")
    speech = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    espnet = Speech2Language(s2t_train_config=str(model_files[0]), s2t_model_file=str(model_files[1]),
                             first_lang_sym="<deu>", last_lang_sym="<fra>", nbest=3)
    found = detector(speech)
    assert found == espnet(speech)
    assert sorted(symbol for symbol, _ in found) == ["<deu>", "<eng>", "<fra>"]
    assert sum(p for _, p in found) == pytest.approx(1.0)


def loaded(token_list: list) -> SimpleNamespace:
    """What the detector reads of a Speech2Text."""
    return SimpleNamespace(s2t_model=SimpleNamespace(token_list=token_list), s2t_train_args=None,
                           preprocessor_conf={}, device="cpu", dtype="float32")


def test_a_token_list_without_one_range_of_languages_is_refused() -> None:
    with pytest.raises(ValueError, match="the model's token list has no language symbols to identify"):
        LoadedSpeech2Language(loaded(["<blank>", "<unk>", "a", "b", "<sos/eos>"]))  # an ASR model's
    repeated = ["<blank>", "<unk>", "<na>", "<nospeech>", "<fra>", "<deu>", "<fra>", "<asr>", "a"]
    with pytest.raises(ValueError, match=r"not contiguous \(<fra> \.\. <fra>\); Speech2Language reads one id range"):
        LoadedSpeech2Language(loaded(repeated))
