"""The mini corpus from the command line: bad languages are usage errors, a matching rerun reuses the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from espnet_dynprune.data import mini_corpus
from espnet_dynprune.recipe import mini_corpus as mini_corpus_command
from tests.builders.corpus_files import TINY_SPLITS, needs_espeak_and_ffmpeg


def test_an_unknown_language_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        mini_corpus_command.main(["--out", str(tmp_path), "--fleurs_langs", "hu,zz"])
    assert "--fleurs_langs: unknown language 'zz'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written on bad input


@needs_espeak_and_ffmpeg
def test_resume_and_regenerate(tmp_path: Path) -> None:
    small = dict(europarl_langs=["it"], fleurs_langs=[], train=3, dev=1, test=1)
    first = mini_corpus.generate_mini_corpus(tmp_path, **small)
    m4a = next((tmp_path / "europarl_st" / "v1.1" / "it" / "audios").iterdir())
    stamp = m4a.stat().st_mtime_ns
    again = mini_corpus_command.main(["--out", str(tmp_path), "--europarl_langs", "it", "--fleurs_langs", "",
                                      "--train", "3", "--dev", "1", "--test", "1"])  # fmt: skip
    assert again.reused and again.manifest == first.manifest and m4a.stat().st_mtime_ns == stamp

    other = mini_corpus.generate_mini_corpus(tmp_path, europarl_langs=[], fleurs_langs=["bg"], **TINY_SPLITS)
    assert not other.reused and not (tmp_path / "europarl_st").exists()
    assert sorted(p.name for p in (tmp_path / "fleurs").iterdir()) == ["bg_bg", "en_us"]

    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    manifest["complete"] = False  # as left by an interrupted run
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert not mini_corpus.generate_mini_corpus(tmp_path, europarl_langs=[], fleurs_langs=["bg"], **TINY_SPLITS).reused
