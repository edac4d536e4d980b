"""espeak-ng speech: 16 kHz PCM with a noise floor, speaker pools, and errors that name the fix."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_dynprune.data import espeak

needs_espeak = pytest.mark.skipif(
    espeak.shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)"
)


def test_missing_espeak_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak.shutil, "which", lambda name: None)
    with pytest.raises(espeak.EspeakError, match="apt-get install espeak-ng"):
        espeak.synthesize("bonjour", espeak.Speaker("fra"), "/nonexistent/x.wav")


def test_speaker_pool_and_errors() -> None:
    pool = espeak.speaker_pool("deu", 8, seed=1)
    assert len({s.speaker_id for s in pool}) == 8 and pool == espeak.speaker_pool("deu", 8, seed=1)
    assert pool[0].voice.startswith("de+") and re.fullmatch(r"deu-[mf]\d-s\d{3}-p\d{2}", pool[0].speaker_id)
    with pytest.raises(ValueError, match="pitch=120"):
        espeak.Speaker("fra", pitch=120)


@needs_espeak
def test_synthesize_writes_16k_pcm16_with_noise_floor(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    seconds = espeak.synthesize("le conseil examine le rapport", espeak.Speaker("fra", "m3"), out, seed=1)
    info = soundfile.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(info.duration - seconds) < 1e-3 and 1.0 < seconds < 5.0
    audio = espeak.read_wav(out)
    lead = audio[: int(0.1 * 16000)]  # inside the padded lead-in: noise floor only
    assert -58.0 < 20 * np.log10(np.sqrt(np.mean(lead**2))) < -52.0
    assert np.max(np.abs(audio)) > 0.05  # there is speech
    espeak.synthesize("le conseil examine le rapport", espeak.Speaker("fra", "m3"), tmp_path / "b.wav", seed=1)
    assert not np.array_equal(audio, espeak.read_wav(tmp_path / "b.wav"))  # noise per file
    assert espeak.pad_with_noise(out, 6.0, seed=1) == 6.0 and soundfile.info(str(out)).duration == 6.0
