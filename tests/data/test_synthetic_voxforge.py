"""The mini corpus's VoxForge add-on: read by the VoxForge reader, training sentences only, new voices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile

from espnet_dynprune.corpora import voxforge
from espnet_dynprune.data import mini_corpus, sentences, synthetic_voxforge
from espnet_dynprune.data.espeak import speaker_pool
from tests.builders.corpus_files import VOXFORGE_SIZES

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is needed (apt-get install espeak-ng)")


@pytest.fixture
def corpus(voxforge_corpus: Path) -> Path:
    """The session's corpus (tests/conftest.py): the tests leave it as they found it."""
    return voxforge_corpus


def test_the_reader_finds_every_prompt_with_whole_speakers_held_out(corpus: Path) -> None:
    splits = voxforge.read_voxforge(corpus / "voxforge", ["fr", "it"])
    utts = [u for split in splits.values() for u in split]
    assert len(utts) == 2 * 3 * 2 * 2 and {u.lang for u in utts} == {"fra", "ita"}
    for split in splits.values():  # 3 speakers per language: one each for train, dev and test
        assert sum(u.lang == "fra" for u in split) == 4
    held_out = {u.speaker for u in splits["dev"] + splits["test"]}
    assert held_out.isdisjoint(u.speaker for u in splits["train"])
    lengths = {round(soundfile.info(u.wav).duration, 2) for u in utts}
    assert lengths == {mini_corpus.SEGMENT_SECONDS}  # padded like the corpus's own recordings, none longer


def test_sentences_come_from_the_train_pool_and_voices_are_new(corpus: Path) -> None:
    utts = [u for split in voxforge.read_voxforge(corpus / "voxforge", ["fr"]).values() for u in split]
    pools = mini_corpus.split_pools(synthetic_voxforge.corpus_arguments(corpus))
    french = {split: {sentences.render(f, "fra") for f in pool.timed + pool.untimed} for split, pool in pools.items()}
    texts = {u.source_text for u in utts}
    assert len(texts) == len(utts) and texts <= french["train"]
    assert texts.isdisjoint(french["dev"] | french["test"])
    corpus_voices = {s.speaker_id for s in speaker_pool("fra", mini_corpus.SPEAKERS_PER_LANG, seed=0)}
    sessions = sorted(p.name for p in (corpus / "voxforge" / "fr" / "extracted").iterdir())
    users = {name.split("-")[0] for name in sessions}
    assert len(sessions) == 6 and len(users) == 3
    assert not users & {v.replace("-", "") for v in corpus_voices}


def test_a_changed_rerun_regenerates(corpus: Path) -> None:
    changed = synthetic_voxforge.generate_voxforge(corpus, ["it"], num_workers=2, **{**VOXFORGE_SIZES, "prompts": 1})
    assert set(changed["counts"]) == {"it"} and not (corpus / "voxforge" / "fr").exists()
    synthetic_voxforge.generate_voxforge(corpus, ["fr", "it"], num_workers=2, **VOXFORGE_SIZES)  # as it was


def test_a_changed_corpus_makes_the_part_stale(corpus: Path) -> None:
    path = corpus / "voxforge" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["arguments"]["corpus"] == synthetic_voxforge.corpus_arguments(corpus)
    manifest["arguments"]["corpus"]["seed"] = 1  # as if drawn from another corpus
    path.write_text(json.dumps(manifest), encoding="utf-8")
    wav = next((corpus / "voxforge" / "it").rglob("*.wav"))
    stamp = wav.stat().st_mtime_ns
    synthetic_voxforge.generate_voxforge(corpus, ["fr", "it"], num_workers=2, **VOXFORGE_SIZES)
    assert json.loads(path.read_text(encoding="utf-8"))["arguments"]["corpus"]["seed"] == 0
    assert wav.stat().st_mtime_ns != stamp  # regenerated (the same draw: the corpus did not really change)


def test_bad_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"manifest.json not found: generate the mini corpus first"):
        synthetic_voxforge.generate_voxforge(tmp_path, ["fr"])
    (tmp_path / "manifest.json").write_text(json.dumps({"generator": "someone else"}), encoding="utf-8")
    with pytest.raises(ValueError, match="is not a finished corpus"):
        synthetic_voxforge.generate_voxforge(tmp_path, ["fr"])
    with pytest.raises(ValueError, match="speakers=0 must be >= 1"):
        synthetic_voxforge.generate_voxforge(tmp_path, ["fr"], speakers=0)
    with pytest.raises(ValueError, match="langs is empty"):
        synthetic_voxforge.generate_voxforge(tmp_path, [])


def test_foreign_files_are_not_overwritten(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(corpus, root, ignore=shutil.ignore_patterns("voxforge"))
    (root / "voxforge").mkdir()
    (root / "voxforge" / "mine.txt").write_text("not generated", encoding="utf-8")
    with pytest.raises(FileExistsError, match="no manifest.json; refusing"):
        synthetic_voxforge.generate_voxforge(root, ["fr"], **VOXFORGE_SIZES)
