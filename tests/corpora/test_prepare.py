"""Stage 1 corpus preparation refuses to run without a corpus, with an unknown language or an unknown task."""

from __future__ import annotations

from pathlib import Path

import pytest

from espnet_dynprune.corpora import prepare as prepare_mod


def test_no_corpus_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one of --europarl_st, --fleurs, --voxforge"):
        prepare_mod.prepare(out_dir=tmp_path)


def test_bad_language_and_task(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown language code 'xx'; known: bg, cs"):
        prepare_mod.prepare(out_dir=tmp_path, fleurs=str(tmp_path), fleurs_langs="hu,xx")
    with pytest.raises(ValueError, match="tasks 'mt'"):
        prepare_mod.prepare(out_dir=tmp_path, fleurs=str(tmp_path), tasks="mt")
