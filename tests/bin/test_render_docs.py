"""``bin.render_docs``: the committed docs are what their JSON says; ``--check`` tells a stale page."""

import json
from pathlib import Path

import pytest

from espnet_dynprune.bin.render_docs import main, stale_pages

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_docs_are_rendered_from_the_committed_json():
    pages = sorted((REPO_ROOT / "docs").glob("*.md"))
    assert pages
    assert stale_pages(pages, REPO_ROOT, write=False) == []


def test_check_exits_1_on_a_stale_page_and_rendering_fixes_it(tmp_path, capsys):
    machine = {"platform": "p", "threads": 2, "torch": "2.11.0", "espnet": "202611", "gpu": None}
    (tmp_path / "r.json").write_text(json.dumps({"machine": machine}), encoding="utf-8")
    page = tmp_path / "docs" / "perf.md"
    page.parent.mkdir()
    page.write_text("<!-- table: machine r.json -->\nold\n<!-- /table -->\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["--root", str(tmp_path), "--check"])
    assert exit_.value.code == 1 and "perf.md: stale" in capsys.readouterr().out
    assert "old" in page.read_text(encoding="utf-8")  # --check changes nothing
    main(["--root", str(tmp_path)])
    assert "ESPnet 202611" in page.read_text(encoding="utf-8")
    main(["--root", str(tmp_path), "--check"])  # current now: no exit
