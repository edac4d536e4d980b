"""The first step of ESPnet's search: equal rows are one utterance, prepared once."""

import torch

from espnet_dynprune.nets.decoder.step_scorer import rows_per_utterance


def _rows(*utterances: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    distinct = torch.randn(max(utterances) + 1, 7, 4)
    return distinct[list(utterances)], torch.zeros(len(utterances), 3, dtype=torch.long)


def test_one_utterance_per_beam_slot_gives_the_beam() -> None:
    assert rows_per_utterance(*_rows(0, 0, 0, 1, 1, 1), None) == 3


def test_one_row_per_utterance_gives_one() -> None:
    assert rows_per_utterance(*_rows(0, 1, 2), None) == 1


def test_two_equal_utterances_side_by_side_are_split_into_whole_groups() -> None:
    assert rows_per_utterance(*_rows(0, 0, 0, 0, 1, 1), None) == 2


def test_rows_that_differ_in_prompt_or_padding_are_different_utterances() -> None:
    xs, ys = _rows(0, 0)
    ys[1, 2] = 5
    assert rows_per_utterance(xs, ys, None) == 1
    xs, ys = _rows(0, 0)
    mask = torch.tensor([[[True] * 7], [[True] * 6 + [False]]])
    assert rows_per_utterance(xs, ys, mask) == 1
