"""Stage 12 for Whisper: the language and task of a test set, read from its OWSM text; the drop-in's config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from espnet_dynprune.recipe.whisper_decode import decode_set, dynprune_config
from espnet_dynprune.recipe.whisper_decode import test_set_context as context_of


def _text(tmp_path: Path, lines: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "text").write_text(lines, encoding="utf-8")
    return tmp_path


def test_language_and_task_in_whisper_s_terms(tmp_path: Path) -> None:
    assert context_of(_text(tmp_path / "a", "u1 <fra><st_eng><notimestamps> Hello.\n")) == ("fr", "translate")
    assert context_of(_text(tmp_path / "b", "u1 <rus><asr><notimestamps> Да.\nu2 <rus><asr> Нет.\n")) == ("ru", "transcribe")


@pytest.mark.parametrize(
    "lines, message",
    [
        ("u1 <fra><asr> Oui.\nu2 <ita><asr> Sì.\n", "one language and task per test set"),
        ("u1 <fra><st_deu> Hallo.\n", "translates into English"),
        ("u1 Bonjour.\n", "does not start with an OWSM <lang><task> prefix"),
    ],
)
def test_sets_whisper_cannot_decode_as_one_are_refused(tmp_path: Path, lines: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        context_of(_text(tmp_path, lines))


def test_the_drop_in_config_swaps_the_encoder_and_decoder_keys_only(tmp_path: Path) -> None:
    config = {"encoder": "whisper_local", "encoder_conf": {"whisper_model": "/m/whisper.pt", "do_pad_trim": True},
              "decoder": "whisper_local", "decoder_conf": {"whisper_model": "/m/whisper.pt"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    swapped = yaml.safe_load(dynprune_config(tmp_path).read_text())
    assert swapped == {
        "encoder": "whisper_dynprune",
        "encoder_conf": {"whisper_model": "/m/whisper.pt", "do_pad_trim": True, "gate_predictor": "none"},
        "decoder": "whisper_dynprune", "decoder_conf": {"whisper_model": "/m/whisper.pt", "gate_predictor": "none"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**config, "decoder": "transformer"}))
    with pytest.raises(ValueError, match="config.yaml: decoder 'transformer', expected whisper_local"):
        dynprune_config(tmp_path)


class _Lengths:
    """A decoder of the recipe's protocol that "transcribes" a waveform as its length, 2 at a time."""

    batch_size = 2

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, speech: np.ndarray) -> str:
        return str(speech.size)

    def decode_batch(self, speeches: list) -> list:
        self.batches.append(len(speeches))
        return [self(s) for s in speeches]


def test_a_batched_system_decodes_in_batches_and_shares_out_their_seconds(tmp_path: Path) -> None:
    decoder = _Lengths()
    audio = [(utt, np.zeros(n, dtype=np.float32)) for utt, n in (("a", 16000), ("b", 8000), ("c", 4000))]
    timing = decode_set(decoder, audio, tmp_path)
    assert decoder.batches == [2, 1]
    assert (tmp_path / "text").read_text() == "a 16000\nb 8000\nc 4000\n"
    seconds = timing["per_utt_seconds"]
    assert seconds["a"] == seconds["b"] and timing["seconds_per_utt_is"] == "the seconds of its batch of 2 shared out"
    assert timing["num_utts"] == 3 and timing["audio_seconds"] == 1.75
