"""Whisper's rules on ESPnet's beam search: stop once beam_size hypotheses ended, rank by score per token."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from espnet_dynprune.inference.whisper_search import use_whisper_search
from espnet_dynprune.nets.espnet_compat import BatchBeamSearch, Hypothesis
from espnet_dynprune.recipe.decode import load_speech2text
from tests.builders.tiny_decoding import write_tiny_model

HAS_END_DETECTED = hasattr(BatchBeamSearch, "end_detected")
needs_202611 = pytest.mark.skipif(not HAS_END_DETECTED, reason="ESPnet 202511's BatchBeamSearch has no end_detected")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_model(tmp_path_factory.mktemp("model"))


def ended(length: int, score: float) -> Hypothesis:
    return Hypothesis(yseq=torch.arange(length), score=torch.tensor(score))


@needs_202611
def test_whisper_s_search_needs_espnet_s_batch_beam_search() -> None:
    class NoSearch:
        beam_search = object()

    with pytest.raises(ValueError, match="needs ESPnet's BatchBeamSearch, this Speech2Text has object"):
        use_whisper_search(NoSearch())


@pytest.mark.skipif(HAS_END_DETECTED, reason="this ESPnet has end_detected")
def test_an_espnet_without_end_detection_of_its_own_is_refused_naming_the_release(model_files) -> None:
    s2t = load_speech2text(*model_files, beam_size=2, maxlenratio=0.5)
    with pytest.raises(ValueError, match=r"needs ESPnet 202611's BatchBeamSearch \(end_detected\)"):
        use_whisper_search(s2t)
    assert not s2t.beam_search.normalize_length


@needs_202611
def test_the_search_stops_once_beam_size_hypotheses_ended_and_ranks_by_score_per_token(model_files) -> None:
    s2t = load_speech2text(*model_files, beam_size=2, maxlenratio=0.5)
    other = load_speech2text(*model_files, beam_size=2, maxlenratio=0.5)
    search = s2t.beam_search
    espnet_rule = BatchBeamSearch.end_detected
    use_whisper_search(s2t)
    assert type(search) is BatchBeamSearch  # batch_decode still searches several utterances at once
    assert search.normalize_length and not other.beam_search.normalize_length
    two = [ended(6, -1.0), ended(5, -2.0)]
    assert search.end_detected(two, 6) and not BatchBeamSearch.end_detected(search, two, 6)
    assert search.end_detected(two[:1], 6) == BatchBeamSearch.end_detected(search, two[:1], 6) is False
    assert BatchBeamSearch.end_detected is espnet_rule and "end_detected" not in vars(other.beam_search)
    speech = 0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(0))
    assert s2t(speech.numpy(), lang_sym="<fra>", task_sym="<asr>")[0][1][:3] == ["<fra>", "<asr>", "<notimestamps>"]
