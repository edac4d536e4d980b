"""docs/reliability.md shows exactly the rows the fault suite runs."""

from tests.faults.page import PAGE, render, table
from tests.faults.test_faults import faults


def test_the_page_shows_every_row_the_suite_runs():
    text = PAGE.read_text(encoding="utf-8")
    assert render(text) == text, "docs/reliability.md is stale: run python -m tests.faults.page"


def test_a_row_added_to_the_suite_makes_the_page_stale():
    rows = faults()
    assert table(rows[:-1]) != table(rows)
    assert len(table(rows).split("\n")) == len(rows) + 2  # header, separator, one line per row
