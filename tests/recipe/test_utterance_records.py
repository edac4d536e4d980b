"""Stage 12's per-utterance records: tokens, seconds, decoder calls and gates, alone or shared over a batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from espnet_dynprune.inference import batched_decoding, precision
from espnet_dynprune.recipe.decode import load_speech2text
from espnet_dynprune.recipe.utterance_records import (
    decode_utterance,
    decode_utterances,
    gate_record,
    recorded_calls,
    timed_encoder,
)
from tests.builders.tiny_decoding import noise_speeches, write_tiny_model

PROMPT = ["<fra>", "<asr>", "<notimestamps>"]


@pytest.fixture(scope="module")
def dynprune_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_model(tmp_path_factory.mktemp("dynprune"))


@pytest.fixture(scope="module")
def stock_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_model(tmp_path_factory.mktemp("stock"), dynprune=False)


@pytest.fixture(params=["dynprune", "stock"])
def model_files(request: pytest.FixtureRequest) -> tuple[Path, Path]:
    return request.getfixturevalue(f"{request.param}_files")


class Decoder:
    """A decoder's two scoring methods, returning what they were given."""

    def batch_score(self, ys, states, xs):
        return ys

    def step(self, tgt, mask, source, cache):
        return tgt


def test_calls_are_recorded_per_utterance_and_the_method_is_put_back_even_after_an_error() -> None:
    decoder = Decoder()
    with recorded_calls(decoder, "batch_score") as calls:
        decoder.batch_score(torch.zeros(1, 4), [None], None)
        decoder.batch_score(torch.zeros(3, 5), [object()] * 3, None)
    assert calls == [[1, 4, 0], [3, 5, 1]] and "batch_score" not in vars(decoder)
    own = decoder.step = lambda *args: "an instance's own"  # e.g. a bf16 entry
    with pytest.raises(RuntimeError), recorded_calls(decoder, "step", rows_per_utt=3) as calls:
        decoder.step(torch.zeros(6, 2), None, None, None)
        decoder.step(torch.zeros(6, 3), None, None, [torch.zeros(1)])
        raise RuntimeError("the search failed")
    assert calls == [[2, 2, 0], [2, 3, 1]] and decoder.step is own


def test_encoder_seconds_are_timed_call_by_call() -> None:
    class Model:
        def encode(self, speech, lengths):
            if lengths is None:
                raise ValueError("no lengths")
            return speech

    model = Model()
    with timed_encoder(model) as seconds:
        model.encode(torch.zeros(1), torch.ones(1))
        with pytest.raises(ValueError):
            model.encode(torch.zeros(1), None)
    assert len(seconds) == 2 and all(s >= 0 for s in seconds) and "encode" not in vars(model)


def test_one_utterance_s_record_holds_its_tokens_times_calls_and_predicted_gates(dynprune_files) -> None:
    s2t = load_speech2text(*dynprune_files, beam_size=2, maxlenratio=0.5)
    record = decode_utterance(s2t, noise_speeches()[0], "<fra>", "<asr>")
    assert record["tokens"][:3] == PROMPT and 0 < record["encoder_seconds"] <= record["seconds"]
    calls = record["decoder_calls"]
    assert calls[0] == [1, 4, 0]  # <sos> and the 3-token prompt, no cache yet
    assert [c[1] for c in calls] == list(range(4, 4 + len(calls))) and all(c[2] == 1 for c in calls[1:])
    assert all(1 <= c[0] <= 2 for c in calls)  # at most beam-size hypotheses per step
    for name, part in s2t.s2t_model.gated_parts().items():
        gates, margins = record["gates"][name], record["margins"][name]
        assert list(gates) == list(part.gate_names) and len(margins) == len(gates)
        assert [keep for keep in gates.values()] == [m > 0 for m in margins]  # kept where keep beats skip
        assert record["sparsity"][name] == sum(not k for k in gates.values()) / len(gates)


def test_forced_gates_are_recorded_without_margins(dynprune_files) -> None:
    s2t = load_speech2text(*dynprune_files, beam_size=2, maxlenratio=0.5, gates="off")
    record = decode_utterance(s2t, noise_speeches()[0], "<fra>", "<asr>")
    assert record["margins"] == {} and set(record["gates"]) == {"encoder", "decoder"}
    assert not any(keep for part in record["gates"].values() for keep in part.values())
    assert record["sparsity"] == record["sparsity_flops"] == {"encoder": 1.0, "decoder": 1.0}


def test_a_batch_decodes_as_one_at_a_time_and_shares_out_its_seconds_and_calls(dynprune_files) -> None:
    s2t = load_speech2text(*dynprune_files, beam_size=2, maxlenratio=0.5)
    speeches = noise_speeches()
    alone = [decode_utterance(s2t, speech, "<fra>", "<asr>") for speech in speeches]
    batch = decode_utterances(s2t, speeches, "<fra>", "<asr>")
    assert [r["tokens"] for r in batch] == [r["tokens"] for r in alone]
    assert batch[0]["seconds"] == batch[1]["seconds"] and batch[0]["encoder_seconds"] == batch[1]["encoder_seconds"]
    assert batch[0]["decoder_calls"] == batch[1]["decoder_calls"]
    assert batch[0]["decoder_calls"][0] == [1, 4, 0]  # the 2 utterances' rows shared out over both
    assert batch[0]["margins"] != batch[1]["margins"]  # each utterance's own gate row


def test_a_model_without_gates_has_an_empty_gate_record(stock_files) -> None:
    s2t = load_speech2text(*stock_files, beam_size=2, maxlenratio=0.5)
    assert gate_record(s2t.s2t_model) == {"gates": {}, "sparsity": {}, "sparsity_flops": {}, "margins": {}}
    record = decode_utterance(s2t, noise_speeches()[0], "<fra>", "<asr>")
    assert record["gates"] == {} and record["tokens"][:3] == PROMPT


def test_recording_a_decoding_leaves_the_bf16_entries_in_place(model_files):
    s2t = load_speech2text(*model_files, beam_size=2, maxlenratio=0.5, decoder_precision="bf16")
    decoders = {id(d): d for d in (s2t.s2t_model.decoder, batched_decoding.dynprune_decoder(s2t))}.values()

    def entries():
        return [{n: vars(d)[n] for n in precision.ENTRIES["decoder"] if n in vars(d)} for d in decoders]

    before = entries()
    decode_utterance(s2t, noise_speeches()[0], "<fra>", "<asr>")
    decode_utterances(s2t, noise_speeches(), "<fra>", "<asr>")
    assert all("batch_score" in e for e in before) and entries() == before
