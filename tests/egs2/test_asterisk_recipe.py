"""egs2/asterisk/asr1: real English prompts, the real tiny.en weights, stock ESPnet beside faster-whisper."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.builders.tiny_recipe import run_recipe

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "asterisk" / "asr1"
MADE = ("data", "dump", "exp", "downloads", "results")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("asterisk") / "asr1"
    return Path(shutil.copytree(RECIPE, dest, ignore=shutil.ignore_patterns(*MADE)))


def test_stages_1_to_13_on_two_real_prompts(recipe: Path) -> None:
    args = ("--langs", "en", "--train_sets", "", "--whisper_models", "tiny.en", "--max_utts", "2",
            "--systems", "espnet,faster_whisper:int8")
    run_recipe(recipe, "./run.sh", *args)
    assert (recipe / "data" / "test_sets.txt").read_text().split() == ["test_asterisk_eng_asr"]
    result = json.loads((recipe / "results" / "zero_shot_tiny.en_decode_beam5_first2.json").read_text())
    rows = result["test_asterisk_eng_asr"]
    assert set(rows) == {"espnet", "faster_whisper_int8"}
    assert rows["espnet"]["num_utts"] == rows["faster_whisper_int8"]["num_utts"] == 2
    assert rows["espnet"]["wer"] <= 25.0  # two short, clean prompts: at most a word or so wrong
    assert rows["faster_whisper_int8"]["speed_vs_first"] > 0 and "vs_first" in rows["faster_whisper_int8"]
    assert json.loads((recipe / "results" / "conversion_tiny.en.json").read_text())["token_type"] == "whisper_en"
    again = run_recipe(recipe, "./run.sh", "--stage", "12", "--stop_stage", "12", *args)
    assert again.stderr.count("done before, kept") == 2
