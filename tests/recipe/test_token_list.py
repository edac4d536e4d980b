"""Stage 5: a pretrained token list copied with unknown <symbols> named, or a new one in OWSM's layout."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Tuple

import pytest

from espnet_dynprune.data import sentences
from espnet_dynprune.owsm.datadir import Utterance, read_lines, read_map, write_datadir
from espnet_dynprune.owsm.token_layout import owsm_special_symbols
from espnet_dynprune.recipe.token_list import main


def test_symbol_missing_from_the_token_list_is_named(packed: Path, tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("u1 <fra><asr><notimestamps> a\nu7 <hun><asr><notimestamps> b\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"<hun> \(first in u7\)"):
        main(["--pretrained_model", str(packed), "--output_dir", str(tmp_path / "tl"), "--check_text", str(text)])


@pytest.fixture(scope="module")
def new_token_list(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """(data dir, token dir): 40 French and 40 German sentences, ASR and ST each, then
    ``--pretrained_model none --nbpe 100`` on their text, as run.sh stages 1 and 5 make them."""
    root = tmp_path_factory.mktemp("new_token_list")
    tables = (sentences.SUBJECTS, sentences.VERBS, sentences.OBJECTS)
    frames = list(itertools.product(*(range(len(t)) for t in tables), [None, *range(len(sentences.TIMES))]))
    utts = []
    for lang in ("fra", "deu"):
        for i, frame in enumerate(random.Random(lang).sample(frames, 40)):
            pair = sentences.make_pair(frame, lang)
            for task, target in (("asr", pair.source), ("st_eng", pair.english)):
                utts.append(Utterance(f"{lang}-s1_{i:03d}_{task}", f"/{lang}{i}.wav", f"{lang}-s1", lang, task,
                                      pair.source, target))  # fmt: skip
    data = write_datadir(root / "train", utts)
    tokens = main(["--pretrained_model", "none", "--nbpe", "100", "--output_dir", str(root / "token_list"),
                   "--check_text", str(data / "text")])  # fmt: skip
    return data, tokens


def test_new_token_list_has_owsm_layout_and_the_languages_and_tasks_of_the_text(new_token_list) -> None:
    import sentencepiece as spm

    data, token_dir = new_token_list
    assert token_dir == data.parent / "token_list" / "bpe_unigram100"
    tokens = read_lines(token_dir / "tokens.txt")
    specials = owsm_special_symbols(["deu", "eng", "fra"])  # spoken languages and the ST target, sorted
    assert tokens[:2] == ["<blank>", "<unk>"]
    assert tokens[2 : 2 + len(specials)] == specials
    assert tokens[2] == "<na>" and tokens[-3:] == ["<sos>", "<eos>", "<sop>"]
    assert len(tokens) == len(set(tokens))
    assert 50 <= len(tokens[2 + len(specials) : -3]) <= 100
    assert (token_dir / "nlsyms.txt").read_text(encoding="utf-8").split() == specials
    # S2TPreprocessor drops the first piece of `text`: it must be a lone '▁'.
    text = read_map(data / "text")
    sp = spm.SentencePieceProcessor(model_file=str(token_dir / "bpe.model"))
    assert sp.encode(text["fra-s1_000_st_eng"], out_type=str)[:4] == ["▁", "<fra>", "<st_eng>", "<notimestamps>"]
    assert "<unk>" not in sp.encode(text["fra-s1_000_asr"], out_type=str)


def test_espnet_s2t_preprocessor_reads_the_data_dir_with_the_new_token_list(new_token_list) -> None:
    """ESPnet's S2TPreprocessor finds the timestamp tokens and drops exactly the lone '▁'."""
    import numpy as np
    from espnet2.train.preprocessor import S2TPreprocessor

    data, token_dir = new_token_list
    tokens = read_lines(token_dir / "tokens.txt")
    pre = S2TPreprocessor(train=False, token_type="bpe", token_list=str(token_dir / "tokens.txt"),
                          bpemodel=str(token_dir / "bpe.model"), speech_length=4.0, time_apply_prob=1.0,
                          text_prev_apply_prob=0.0)  # fmt: skip
    text, prev, ctc = (read_map(data / n) for n in ("text", "text.prev", "text.ctc"))
    utt = "deu-s1_003_st_eng"
    out = pre(utt, {"speech": np.zeros(16000, np.float32), "text": text[utt], "text_prev": prev[utt],
                    "text_ctc": ctc[utt]})  # fmt: skip
    ids = out["text"].tolist()
    assert [tokens[i] for i in ids[:3]] == ["<deu>", "<st_eng>", "<notimestamps>"]
    assert tokens.index("<unk>") not in ids and tokens.index("<unk>") not in out["text_ctc"].tolist()
    assert [tokens[i] for i in out["text_prev"].tolist()][-1] == "<na>"
    assert out["speech"].shape[0] == 4 * 16000  # padded to speech_length
