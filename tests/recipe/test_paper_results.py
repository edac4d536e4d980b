"""The paper_results command: RESULTS.md rendered from the raw results, the header's parts placed, the page returned."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from espnet_dynprune.recipe import paper_results as paper_results_command

FIXTURE = Path(__file__).parents[1] / "analysis" / "fixtures" / "paper_raw"  # a subset of real grid runs


@pytest.fixture
def recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recipe dir (the working directory) with the raw results in results/raw, as the grid leaves them."""
    shutil.copytree(FIXTURE, tmp_path / "results" / "raw")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_is_written_where_asked_with_the_header_first(recipe, caplog):
    header = recipe / "header.md"
    header.write_text("# Europarl-ST\n\nSetup.\n\n<!-- environment -->\nrecorded by hand\n", encoding="utf-8")
    with caplog.at_level(logging.INFO):
        page = paper_results_command.main(["--raw_dir", "results/raw", "--header", str(header),
                                           "--output", "out/RESULTS.md"])
    assert (recipe / "out" / "RESULTS.md").read_text(encoding="utf-8") == page
    assert page.startswith("# Europarl-ST\n\n## Environments\n")  # the header's title, then the environments
    environments = page.split("## Environments")[1].split("\n## ")[0]
    assert "recorded by hand" in environments and "<!-- environment -->" not in page
    assert environments.endswith("\nSetup.\n")  # the rest of the header before the tables
    assert f"wrote out/RESULTS.md ({len(page)} characters)" in caplog.messages
    assert (recipe / "out" / "results" / "tables" / "dynamic.csv").is_file()  # beside the page, as the figures
    assert (recipe / "out" / "results" / "figures" / "dynamic_vs_sparsity.png").stat().st_size > 5000


def test_the_defaults_are_the_recipe_s_results_raw_and_results_md(recipe):
    page = paper_results_command.main([])
    assert (recipe / "RESULTS.md").read_text(encoding="utf-8") == page
    assert page.startswith("# Results\n\n## Environments\n")  # no header: a title of its own
    assert "**Stale, left out** (made from another spec than the grid's now): stale_run." in page


def test_a_raw_dir_without_results_is_named(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(FileNotFoundError, match="raw holds no raw result"):
        paper_results_command.main(["--raw_dir", str(tmp_path / "raw"), "--output", str(tmp_path / "RESULTS.md")])
    assert not (tmp_path / "RESULTS.md").exists()
