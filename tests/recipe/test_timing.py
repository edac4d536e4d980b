"""recipe.timing keeps what it cannot measure again (the rest runs through the recipe's grid test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from espnet_dynprune.analysis import raw_results
from espnet_dynprune.recipe import timing


def test_other_settings_are_refused_while_they_would_drop_a_run_whose_model_is_gone(tmp_path):
    raw = tmp_path / "results" / "raw"
    raw.mkdir(parents=True)
    fixture = Path(__file__).parents[1] / "analysis" / "fixtures" / "paper_raw" / "dense.json"
    shutil.copy(fixture, raw)  # a finished experiment whose exp/ dir is not here
    old = {"settings": {"utts_per_set": 3, "repeats": 1, "threads": 1},
           "runs": {"gone": {"spec_hash": "abc", "decodes": {"decode_beam5_gates_on": {"seconds_per_utt": 0.4}}}}}
    raw_results.write_timing(raw, old)
    with pytest.raises(ValueError, match=r"would drop \['gone'\], whose models are not in exp/ any more"):
        timing.timing(tmp_path, "results/raw", utts_per_set=10, repeats=3)
    assert json.loads((raw / raw_results.TIMING).read_text()) == old
    assert timing.timing(tmp_path, "results/raw", utts_per_set=3, repeats=1)["runs"] == old["runs"]  # nothing to do
