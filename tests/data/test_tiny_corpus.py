"""Fast checks of the synthetic corpus building blocks (no ESPnet import)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_dynprune.data import espeak, sentences, tiny_corpus
from espnet_dynprune.zoo.token_list import default_langs, read_token_list, train_token_list
from espnet_dynprune.owsm.datadir import DATADIR_FILES, Utterance, read_map, write_datadir
from espnet_dynprune.owsm.symbols import format_target as owsm_text
from espnet_dynprune.owsm.symbols import timestamp_symbols
from espnet_dynprune.owsm.token_layout import owsm_special_symbols

needs_espeak = pytest.mark.skipif(
    espeak.shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)"
)


# ---------------------------------------------------------------- sentences
def test_sentences_are_deterministic_and_aligned() -> None:
    a = sentences.sample_pairs("fra", 20, seed=3)
    b = sentences.sample_pairs("fra", 20, seed=3)
    assert a == b
    assert a != sentences.sample_pairs("fra", 20, seed=4)
    assert len({p.source for p in a}) == 20
    for pair in a:
        assert pair.english == sentences.render(pair.frame, "eng")
        assert pair.source == pair.source.lower() and not re.search(r"[.,;!?]", pair.source)


def test_german_puts_time_before_object() -> None:
    frame = (1, 2, 0, 0)  # council, examines, report, tomorrow
    assert sentences.render(frame, "deu") == "der rat prüft morgen den bericht"
    assert sentences.render(frame, "fra") == "le conseil examine le rapport demain"
    assert sentences.render(frame, "eng") == "the council examines the report tomorrow"


@pytest.mark.parametrize("lang", ["eng", *sentences.LANGUAGES])
def test_vocabulary_is_small(lang: str) -> None:
    assert 35 <= len(sentences.word_types(lang)) <= 50


def test_splits_are_disjoint() -> None:
    splits = sentences.split_pairs("ita", {"train": 100, "dev": 20, "test": 20}, seed=0)
    frames = {name: {p.frame for p in pairs} for name, pairs in splits.items()}
    assert [len(f) for f in frames.values()] == [100, 20, 20]
    assert not frames["train"] & frames["dev"] and not frames["train"] & frames["test"]
    assert not frames["dev"] & frames["test"]
    sources = {name: {p.source for p in pairs} for name, pairs in splits.items()}
    assert not sources["train"] & sources["test"]


def test_sentence_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="'spa'"):
        sentences.sample_pairs("spa", 3)
    with pytest.raises(ValueError, match="n=5000"):
        sentences.sample_pairs("fra", 5000)


# ---------------------------------------------------------------- data dir
def _utt(spk: str, idx: int, task: str, lang: str = "fra") -> Utterance:
    src, eng = "le conseil examine le rapport", "the council examines the report"
    return Utterance(
        utt_id=f"{spk}_u{idx:03d}_{task}",
        wav=f"/data/{spk}_u{idx:03d}.wav",
        speaker=spk,
        lang=lang,
        task=task,
        source_text=src,
        target_text=src if task == "asr" else eng,
        duration=1.5,
    )


def test_write_datadir_format(tmp_path: Path) -> None:
    utts = [_utt(s, i, t) for s in ("fra-m2", "fra-f1") for i in (2, 1) for t in ("st_eng", "asr")]
    out = write_datadir(tmp_path / "d", utts)
    for name in (*DATADIR_FILES, "utt2dur"):
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        keys = [line.split(" ", 1)[0] for line in lines]
        assert keys == sorted(keys, key=lambda k: k.encode()), name
    text = read_map(out / "text")
    assert text["fra-f1_u001_asr"] == "<fra><asr><notimestamps> le conseil examine le rapport"
    assert text["fra-f1_u001_st_eng"] == "<fra><st_eng><notimestamps> the council examines the report"
    assert set(read_map(out / "text.prev").values()) == {"<na>"}
    assert set(read_map(out / "text.ctc").values()) == {"le conseil examine le rapport"}
    assert read_map(out / "wav.scp")["fra-m2_u002_st_eng"] == "/data/fra-m2_u002.wav"
    assert read_map(out / "spk2utt")["fra-f1"].split() == [
        "fra-f1_u001_asr", "fra-f1_u001_st_eng", "fra-f1_u002_asr", "fra-f1_u002_st_eng",
    ]  # fmt: skip
    assert read_map(out / "utt2spk")["fra-m2_u001_asr"] == "fra-m2"


def test_datadir_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must start with its speaker id"):
        Utterance("u1_asr", "/a.wav", "spk", "fra", "asr", "a", "a")
    with pytest.raises(ValueError, match="task='mt'"):
        _utt("s", 1, "mt")
    with pytest.raises(ValueError, match="lang='fr'"):
        _utt("s", 1, "asr", lang="fr")
    with pytest.raises(ValueError, match="duplicate utt_id 's_u001_asr'"):
        write_datadir(tmp_path, [_utt("s", 1, "asr"), _utt("s", 1, "asr")])
    with pytest.raises(ValueError, match="sorting by utt_id and by speaker disagree"):
        write_datadir(tmp_path, [_utt("a", 1, "asr"), _utt("a-b", 1, "asr")])


# ---------------------------------------------------------------- token list
def test_special_symbols_follow_owsm_order() -> None:
    stamps = timestamp_symbols()
    assert len(stamps) == 1501 and stamps[0] == "<0.00>" and stamps[1] == "<0.02>" and stamps[-1] == "<30.00>"
    syms = owsm_special_symbols(default_langs(["ita", "fra"]), ["st_eng"])
    assert syms[:8] == ["<na>", "<nospeech>", "<eng>", "<fra>", "<ita>", "<asr>", "<st_eng>", "<notimestamps>"]
    assert syms[8:] == stamps
    with pytest.raises(ValueError, match="task='translate'"):
        owsm_special_symbols(["fra"], ["translate"])


def test_token_list_layout(tmp_path: Path) -> None:
    import sentencepiece as spm

    lines = []
    for lang in ("fra", "deu"):
        for pair in sentences.sample_pairs(lang, 40):
            lines += [owsm_text(lang, "asr", pair.source), owsm_text(lang, "st_eng", pair.english)]
    paths = train_token_list(lines, tmp_path / "bpe", langs=default_langs(["fra", "deu"]), num_pieces=100)
    tokens = read_token_list(paths.tokens)
    specials = owsm_special_symbols(["deu", "eng", "fra"])
    assert tokens[:2] == ["<blank>", "<unk>"]
    assert tokens[2 : 2 + len(specials)] == specials
    assert tokens[2] == "<na>" and tokens[-3:] == ["<sos>", "<eos>", "<sop>"]
    assert len(tokens) == len(set(tokens))
    pieces = tokens[2 + len(specials) : -3]
    assert 50 <= len(pieces) <= 100
    assert paths.nlsyms.read_text(encoding="utf-8").split() == specials
    # S2TPreprocessor drops the first piece of `text`: it must be a lone '▁'.
    sp = spm.SentencePieceProcessor(model_file=str(paths.bpemodel))
    enc = sp.encode(lines[1], out_type=str)
    assert enc[:4] == ["▁", "<fra>", "<st_eng>", "<notimestamps>"]
    assert "<unk>" not in sp.encode(lines[0], out_type=str)


# ---------------------------------------------------------------- espeak
def test_missing_espeak_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak.shutil, "which", lambda name: None)
    with pytest.raises(espeak.EspeakError, match="apt-get install espeak-ng"):
        espeak.synthesize("bonjour", espeak.Speaker("fra"), "/nonexistent/x.wav")


def test_speaker_pool_and_errors() -> None:
    pool = espeak.speaker_pool("deu", 8, seed=1)
    assert len({s.speaker_id for s in pool}) == 8 and pool == espeak.speaker_pool("deu", 8, seed=1)
    assert pool[0].voice.startswith("de+") and re.fullmatch(r"deu-[mf]\d-s\d{3}-p\d{2}", pool[0].speaker_id)
    with pytest.raises(ValueError, match="pitch=120"):
        espeak.Speaker("fra", pitch=120)


@needs_espeak
def test_synthesize_writes_16k_pcm16_with_noise_floor(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    seconds = espeak.synthesize("le conseil examine le rapport", espeak.Speaker("fra", "m3"), out, seed=1)
    info = soundfile.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(info.duration - seconds) < 1e-3 and 1.0 < seconds < 5.0
    audio = espeak.read_wav(out)
    lead = audio[: int(0.1 * 16000)]  # inside the padded lead-in: noise floor only
    assert -58.0 < 20 * np.log10(np.sqrt(np.mean(lead**2))) < -52.0
    assert np.max(np.abs(audio)) > 0.05  # there is speech
    espeak.synthesize("le conseil examine le rapport", espeak.Speaker("fra", "m3"), tmp_path / "b.wav", seed=1)
    assert out.name != "b.wav" and not np.array_equal(audio, espeak.read_wav(tmp_path / "b.wav"))  # noise per file
    assert espeak.pad_with_noise(out, 6.0, seed=1) == 6.0 and soundfile.info(str(out)).duration == 6.0


# ---------------------------------------------------------------- tiny corpus
@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tiny_corpus.TinyCorpus:
    if espeak.shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    out = tmp_path_factory.mktemp("tiny")
    start = time.perf_counter()
    info = tiny_corpus.build_tiny_corpus(
        out,
        langs=["fra", "deu"],
        sizes={"train": 8, "dev": 2, "test": 2},
        speakers_per_lang=3,
        num_pieces=60,
        pad_to_max=False,
    )
    assert time.perf_counter() - start < 30
    return info


def test_corpus_layout_and_counts(corpus: tiny_corpus.TinyCorpus) -> None:
    assert corpus.num_recordings == {"train": 16, "dev": 4, "test": 4}
    assert corpus.num_examples == {"train": 32, "dev": 8, "test": 8}
    assert len(list((corpus.root / "wav").rglob("*.wav"))) == 24
    assert corpus.bpemodel.exists() and corpus.token_list.name == "tokens.txt"
    assert corpus.token_list.parent == corpus.root / "data" / "token_list" / "bpe_unigram60"
    assert tiny_corpus.TinyCorpus.load(corpus.root) == corpus
    for split, data_dir in corpus.data_dirs.items():
        assert data_dir == corpus.root / "data" / split
        assert all((data_dir / name).exists() for name in DATADIR_FILES)


def test_corpus_examples_pair_asr_and_st(corpus: tiny_corpus.TinyCorpus) -> None:
    d = corpus.data_dirs["train"]
    wav, text, ctc, spk = (read_map(d / n) for n in ("wav.scp", "text", "text.ctc", "utt2spk"))
    assert set(wav) == set(text) == set(ctc) == set(spk)
    for utt, path in wav.items():
        assert utt.startswith(spk[utt] + "_") and Path(path).is_absolute() and Path(path).exists()
        base, task = re.fullmatch(r"(.+?)_(asr|st_eng)", utt).groups()
        lang = spk[utt][:3]
        if task == "asr":
            assert text[utt] == f"<{lang}><asr><notimestamps> {ctc[utt]}"
            other = f"{base}_st_eng"
            assert wav[other] == path and ctc[other] == ctc[utt]
            assert text[other].startswith(f"<{lang}><st_eng><notimestamps> the ")
    train_ctc = set(read_map(d / "text.ctc").values())
    assert not train_ctc & set(read_map(corpus.data_dirs["test"] / "text.ctc").values())


def test_corpus_audio_is_16k_mono(corpus: tiny_corpus.TinyCorpus) -> None:
    for path in set(read_map(corpus.data_dirs["dev"] / "wav.scp").values()):
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    durs = [float(v) for d in corpus.data_dirs.values() for v in read_map(d / "utt2dur").values()]
    assert max(durs) == pytest.approx(corpus.max_seconds, abs=1e-3) == corpus.max_speech_seconds
    assert len(set(durs)) > 1  # pad_to_max=False keeps natural lengths


@needs_espeak
def test_cli_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tiny_corpus.main(
        ["--out", str(tmp_path), "--langs", "ita", "--per_lang_train", "6", "--per_lang_dev", "2",
         "--per_lang_test", "2", "--num_pieces", "40", "--pad_to_max"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "train: 6 recordings, 12 examples" in out and "test: 2 recordings, 4 examples" in out
    durs = set(read_map(tmp_path / "data" / "train" / "utt2dur").values())
    assert len(durs) == 1  # --pad_to_max: every file has the same whole-second length
    assert float(durs.pop()).is_integer()
