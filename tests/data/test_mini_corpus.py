"""The mini corpus generator: Europarl-ST v1.1 and FLEURS layouts, alignment, audio, determinism, refusals."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile

from espnet_dynprune.corpora import fleurs as fl
from espnet_dynprune.data import mini_corpus, sentences, synthetic_talks
from espnet_dynprune.data.espeak import Speaker
from tests.builders.corpus_files import TINY_SPLITS, needs_espeak_and_ffmpeg

ISO3 = {"fr": "fra", "de": "deu", "it": "ita", "hu_hu": "hun", "bg_bg": "bul", "en_us": "eng"}


def _to_english(lang: str) -> Dict[str, str]:
    """Every sentence ``lang`` can produce -> its English rendering (frames are shared)."""
    sizes = [range(len(t)) for t in (sentences.SUBJECTS, sentences.VERBS, sentences.OBJECTS)]
    frames = [(*svo, t) for svo in itertools.product(*sizes) for t in [None, *range(len(sentences.TIMES))]]
    return {sentences.render(f, lang): sentences.render(f, "eng") for f in frames}


def _lines(path: Path) -> List[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _decode(path: Path) -> np.ndarray:
    cmd = ["ffmpeg", "-loglevel", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", "16000", "-"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, dtype="<f4")


def _dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12))


def _files(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> mini_corpus.MiniCorpus:
    if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
        pytest.skip("espeak-ng and ffmpeg are needed (apt-get install espeak-ng ffmpeg)")
    return mini_corpus.generate_mini_corpus(tmp_path_factory.mktemp("mini"), num_workers=2, **TINY_SPLITS)


# ---------------------------------------------------------------- lexicon / helpers (no tools needed)
def test_hungarian_and_bulgarian_rows() -> None:
    frame = (1, 2, 0, 0)  # council, examines, report, tomorrow
    assert sentences.render(frame, "hun") == "a tanács megvizsgálja a jelentést holnap"
    assert sentences.render(frame, "bul") == "съветът разглежда доклада утре"
    assert Speaker("hun", "f2").voice == "hu+f2" and Speaker("bul").voice == "bg+m1"
    assert {"hun", "bul"} <= set(sentences.LANGUAGES)


def test_frame_pools_are_disjoint_and_proportional() -> None:
    pools = mini_corpus.partition_frames({"train": 8, "dev": 1, "test": 1}, seed=3)
    sets = {s: set(p.timed) | set(p.untimed) for s, p in pools.items()}
    assert sum(len(s) for s in sets.values()) == len(set().union(*sets.values())) == sentences.num_frames()
    assert len(sets["train"]) == pytest.approx(0.8 * sentences.num_frames(), abs=2)
    assert all(f[3] is None for f in pools["dev"].untimed) and all(f[3] is not None for f in pools["dev"].timed)
    frames = mini_corpus.draw_frames(pools["dev"], 40, key="k")
    assert len(set(frames)) == 40 and set(frames) <= sets["dev"]
    assert frames == mini_corpus.draw_frames(pools["dev"], 40, key="k")
    assert sum(f[3] is None for f in frames) == 20
    with pytest.raises(ValueError, match="do not fit"):
        mini_corpus.draw_frames(pools["dev"], 1000, key="k")


def test_unknown_language_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="europarl_langs: unknown language 'es'"):
        mini_corpus.generate_mini_corpus(tmp_path, europarl_langs=["es"])
    with pytest.raises(ValueError, match="fleurs_langs: unknown language 'en'"):
        mini_corpus.generate_mini_corpus(tmp_path, fleurs_langs=["en"])
    with pytest.raises(ValueError, match="--fleurs_train/--fleurs_dev/--fleurs_test: dev size 0"):
        mini_corpus.generate_mini_corpus(tmp_path, fleurs_dev=0)
    assert not any(tmp_path.iterdir())  # nothing written on bad input


# ---------------------------------------------------------------- Europarl-ST
def test_europarl_layout_and_alignment(corpus: mini_corpus.MiniCorpus) -> None:
    root = corpus.europarl_root
    assert root == corpus.root / "europarl_st" / "v1.1"
    assert sorted(p.name for p in root.iterdir()) == ["de", "fr", "it"]
    for lang in ("fr", "de", "it"):
        english = _to_english(ISO3[lang])
        ids_by_split = {}
        for split, size in (("train", 6), ("dev", 2), ("test", 2)):
            d = root / lang / "en" / split
            lst, src, eng = _lines(d / "segments.lst"), _lines(d / f"segments.{lang}"), _lines(d / "segments.en")
            assert len(lst) == len(src) == len(eng) == size
            assert [english[s] for s in src] == eng  # line i of the translation is line i of the source
            for line in lst:
                audio_id, start, end = re.fullmatch(r"(\S+) (\d+\.\d\d) (\d+\.\d\d)", line).groups()
                assert re.fullmatch(rf"{lang}\.20\d{{6}}\.\d+\.\d-\d{{3}}", audio_id)
                assert (root / lang / "audios" / f"{audio_id}.m4a").is_file() and float(start) < float(end)
            ids = [line.split()[0] for line in lst]
            assert max(ids.count(i) for i in ids) <= synthetic_talks.TALK_SENTENCES[1]
            ids_by_split[split] = set(ids)
        assert not ids_by_split["train"] & (ids_by_split["dev"] | ids_by_split["test"])  # a talk is in one split
        audios = {p.stem for p in (root / lang / "audios").iterdir()}
        assert audios == set().union(*ids_by_split.values())
    assert corpus.manifest["counts"]["europarl_st"]["fr"]["train"]["sentences"] == 6


def test_segments_lie_in_the_audio_and_hold_speech(corpus: mini_corpus.MiniCorpus) -> None:
    d = corpus.europarl_root / "de" / "en"
    by_talk: Dict[str, List[Tuple[float, float]]] = {}
    for split in ("train", "dev", "test"):
        for line in _lines(d / split / "segments.lst"):
            audio_id, start, end = line.split()
            by_talk.setdefault(audio_id, []).append((float(start), float(end)))
    for audio_id, spans in by_talk.items():
        path = corpus.europarl_root / "de" / "audios" / f"{audio_id}.m4a"
        probe = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", str(path)]
        assert subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip() == "aac"
        audio = _decode(path)
        assert spans == sorted(spans) and spans[-1][1] <= len(audio) / 16000
        for start, end in spans:
            assert start > 0.1 and end - start == pytest.approx(mini_corpus.SEGMENT_SECONDS, abs=0.01)  # padded
            assert _dbfs(audio[int(start * 16000) : int(end * 16000)]) > -35.0  # speech
        for (_, end), (start, _) in zip(spans[:-1], spans[1:], strict=True):
            assert start > end and _dbfs(audio[int(end * 16000) : int(start * 16000)]) < -50.0  # noise floor only


# ---------------------------------------------------------------- FLEURS
def _tsv(path: Path) -> List[List[str]]:
    rows = [line.split("\t") for line in _lines(path)]
    assert rows and all(len(r) == 7 for r in rows), path
    return rows


def test_fleurs_layout_and_parallel_ids(corpus: mini_corpus.MiniCorpus) -> None:
    root = corpus.fleurs_root
    assert sorted(p.name for p in root.iterdir()) == ["bg_bg", "en_us", "hu_hu"]
    for config in ("hu_hu", "bg_bg"):
        english = _to_english(ISO3[config])
        for split, size in (("train", 4), ("dev", 2), ("test", 2)):
            rows, en_rows = _tsv(root / config / f"{split}.tsv"), _tsv(root / "en_us" / f"{split}.tsv")
            assert len(rows) == len(en_rows) == size
            en_by_id = {r[0]: r[3] for r in en_rows}
            assert [r[0] for r in rows] == list(en_by_id)  # same sentence ids, n-way parallel
            for sid, name, raw, text, chars, num_samples, gender in rows:
                assert en_by_id[sid] == english[text]  # the en_us row of the id translates this one
                assert raw == text[0].upper() + text[1:] + "." and raw != text
                assert chars == fl.chars(text) and gender in ("MALE", "FEMALE") and re.fullmatch(r"\d{19}\.wav", name)
                info = soundfile.info(str(root / config / "audio" / split / name))
                assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
                assert info.frames == int(num_samples) == round(16000 * mini_corpus.SEGMENT_SECONDS)  # padded
    hu_train = {r[3] for r in _tsv(root / "hu_hu" / "train.tsv")}
    assert not hu_train & {r[3] for r in _tsv(root / "hu_hu" / "test.tsv")}


def test_splits_are_disjoint_across_languages_and_corpora(corpus: mini_corpus.MiniCorpus) -> None:
    english: Dict[str, set] = {}
    for split in ("train", "dev", "test"):
        english[split] = {r[3] for r in _tsv(corpus.fleurs_root / "en_us" / f"{split}.tsv")}
        for lang in ("fr", "de", "it"):
            english[split] |= set(_lines(corpus.europarl_root / lang / "en" / split / "segments.en"))
    assert not english["train"] & english["dev"] and not english["train"] & english["test"]
    assert not english["dev"] & english["test"]


# ---------------------------------------------------------------- manifest, resume, determinism
def test_manifest_and_readme(corpus: mini_corpus.MiniCorpus) -> None:
    manifest = json.loads((corpus.root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] and manifest["arguments"]["europarl_langs"] == ["fr", "de", "it"]
    assert manifest["arguments"]["fleurs_test"] == 2
    assert manifest["counts"]["fleurs"]["en_us"]["train"]["sentences"] == 4
    seconds = [c["seconds"] for by_lang in manifest["counts"].values() for s in by_lang.values() for c in s.values()]
    assert manifest["total_seconds"] == pytest.approx(sum(seconds), abs=0.05) and manifest["total_seconds"] > 60
    readme = (corpus.root / "README.txt").read_text(encoding="utf-8")
    assert "--fleurs_langs hu,bg" in readme and "fleurs bg_bg: train 4" in readme
    assert not list(corpus.root.glob(".mini_corpus-*"))  # work dir removed


@needs_espeak_and_ffmpeg
def test_deterministic(corpus: mini_corpus.MiniCorpus, tmp_path: Path) -> None:
    again = mini_corpus.generate_mini_corpus(tmp_path, num_workers=1, **TINY_SPLITS)
    a, b = _files(corpus.root), _files(again.root)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] in ([], ["manifest.json"])  # only build_seconds may differ
    assert {**again.manifest, "build_seconds": 0} == {**corpus.manifest, "build_seconds": 0}


def test_refuses_to_overwrite_foreign_data(tmp_path: Path) -> None:
    (tmp_path / "europarl_st" / "v1.1").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="no manifest.json"):
        mini_corpus.generate_mini_corpus(tmp_path, **TINY_SPLITS)
    assert (tmp_path / "europarl_st" / "v1.1").is_dir()
