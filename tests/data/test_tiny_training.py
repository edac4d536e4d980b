"""End to end through real ESPnet: tiny corpus -> collect stats -> s2t_train -> Speech2Text.

The slow test takes about a minute on 2 CPU cores; the others check the config writer and that
ESPnet's own S2TPreprocessor accepts the data dir and token list.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict

import pytest
import yaml

from espnet_dynprune.data import espeak, tiny_corpus, tiny_training
from espnet_dynprune.zoo.token_list import read_token_list
from espnet_dynprune.owsm.datadir import read_map

LANGS = ["fra", "deu"]


def test_config_defaults_are_a_tiny_owsm(tmp_path: Path) -> None:
    path = tiny_training.write_s2t_config(tmp_path / "c.yaml", speech_length=5.0)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert cfg["encoder"] == "e_branchformer" and cfg["decoder"] == "transformer" and "model" not in cfg
    enc = cfg["encoder_conf"]
    assert (enc["output_size"], enc["num_blocks"], enc["attention_heads"]) == (64, 2, 4)
    assert (enc["linear_units"], enc["cgmlp_linear_units"], enc["input_layer"]) == (256, 256, "conv2d")
    assert enc["use_ffn"] and enc["macaron_ffn"] and enc["pos_enc_layer_type"] == "abs_pos"
    assert cfg["decoder_conf"]["num_blocks"] == 2
    assert cfg["frontend_conf"] == {"fs": 16000, "n_fft": 512, "win_length": 400, "hop_length": 320, "n_mels": 40}
    pre = cfg["preprocessor_conf"]
    assert (pre["speech_length"], pre["time_apply_prob"], pre["text_prev_apply_prob"]) == (5.0, 1.0, 0.0)
    assert cfg["specaug"] is None and cfg["batch_type"] == "unsorted"


def test_config_accepts_plugin_names_and_extras(tmp_path: Path) -> None:
    path = tiny_training.write_s2t_config(
        tmp_path / "c.yaml",
        speech_length=4.0,
        encoder="e_branchformer_dynprune",
        decoder="transformer_dynprune",
        model="dynprune",
        encoder_extra={"gate_granularity": "module"},
        decoder_extra={"num_blocks": 3},
        model_extra={"sparsity_target": 0.5},
        extra={"optim_conf": {"lr": 1e-3}, "max_epoch": 7},
    )
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    names = (cfg["encoder"], cfg["decoder"], cfg["model"])
    assert names == ("e_branchformer_dynprune", "transformer_dynprune", "dynprune")
    assert cfg["encoder_conf"]["gate_granularity"] == "module" and cfg["encoder_conf"]["num_blocks"] == 2
    assert cfg["decoder_conf"]["num_blocks"] == 3
    assert cfg["model_conf"]["sparsity_target"] == 0.5 and cfg["model_conf"]["ctc_weight"] == 0.3
    assert cfg["optim_conf"] == {"lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.0}
    assert cfg["max_epoch"] == 7
    with pytest.raises(ValueError, match="output_size=70"):
        tiny_training.make_s2t_config(speech_length=4.0, output_size=70)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tiny_corpus.TinyCorpus:
    if espeak.shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    return tiny_corpus.build_tiny_corpus(
        tmp_path_factory.mktemp("corpus"),
        langs=LANGS,
        sizes={"train": 32, "dev": 4, "test": 4},
        speakers_per_lang=4,
        num_pieces=150,
    )


def test_espnet_preprocessor_reads_corpus(corpus: tiny_corpus.TinyCorpus) -> None:
    """ESPnet's S2TPreprocessor finds the timestamp tokens and drops exactly the lone '▁'."""
    import numpy as np
    from espnet2.train.preprocessor import S2TPreprocessor

    tokens = read_token_list(corpus.token_list)
    pre = S2TPreprocessor(
        train=False,
        token_type="bpe",
        token_list=str(corpus.token_list),
        bpemodel=str(corpus.bpemodel),
        speech_length=tiny_training.speech_length_for(corpus.root),
        time_apply_prob=1.0,
        text_prev_apply_prob=0.0,
    )
    d = corpus.data_dirs["train"]
    text, prev, ctc = (read_map(d / n) for n in ("text", "text.prev", "text.ctc"))
    utt = next(k for k in text if k.endswith("_st_eng"))
    data = {"speech": np.zeros(16000, np.float32), "text": text[utt], "text_prev": prev[utt], "text_ctc": ctc[utt]}
    out = pre(utt, data)
    ids = out["text"].tolist()
    assert [tokens[i] for i in ids[:3]] == [f"<{utt[:3]}>", "<st_eng>", "<notimestamps>"]
    assert tokens.index("<unk>") not in ids and tokens.index("<unk>") not in out["text_ctc"].tolist()
    assert [tokens[i] for i in out["text_prev"].tolist()][-1] == "<na>"
    assert out["speech"].shape[0] == int(16000 * tiny_training.speech_length_for(corpus.root))


def test_train_and_decode_end_to_end(corpus: tiny_corpus.TinyCorpus, tmp_path: Path) -> None:
    timings: Dict[str, float] = {}
    config = tiny_training.write_s2t_config(
        tmp_path / "train_tiny.yaml", speech_length=tiny_training.speech_length_for(corpus.root), max_epoch=2
    )
    run = tiny_training.train(corpus.root, config, tmp_path / "exp" / "s2t_tiny")
    timings.update(run.seconds)

    assert run.exp_dir == (tmp_path / "exp" / "s2t_tiny").resolve()
    assert run.config.exists() and run.model_file.exists() and run.model_file.suffix == ".pth"
    assert (run.exp_dir / "2epoch.pth").exists()
    assert (run.stats_dir / "train" / "feats_stats.npz").exists()
    saved = yaml.safe_load(run.config.read_text(encoding="utf-8"))
    assert saved["encoder"] == "e_branchformer" and saved["max_epoch"] == 2
    assert saved["normalize"] == "global_mvn" and Path(saved["normalize_conf"]["stats_file"]).is_absolute()
    # ESPnet inlines the token list; the bpe model stays a path, absolute so decoding works anywhere.
    assert saved["token_list"] == read_token_list(corpus.token_list) and Path(saved["bpemodel"]).is_absolute()

    epochs = tiny_training.read_epoch_results(run.exp_dir)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert epochs[1]["valid"]["loss"] < epochs[0]["valid"]["loss"]  # it learns something
    assert epochs[1]["train"]["loss"] < epochs[0]["train"]["loss"]

    wavs, text = read_map(corpus.data_dirs["test"] / "wav.scp"), read_map(corpus.data_dirs["test"] / "text")
    for task in ("asr", "st_eng"):
        ids = [k for k in wavs if k.startswith("fra") and k.endswith("_" + task)][:2]
        start = time.perf_counter()
        hyps = tiny_training.decode(run.exp_dir, [wavs[k] for k in ids], "fra", task, beam_size=2)
        timings[f"decode_{task}_x{len(ids)}"] = time.perf_counter() - start
        assert len(hyps) == len(ids)
        for utt, hyp in zip(ids, hyps):
            # Speech2Text strips <sos>; the next tokens are the forced primer, then the output.
            assert hyp.tokens[:3] == ["<fra>", f"<{task}>", "<notimestamps>"], (utt, hyp.tokens)
            assert not any(t in ("<sos>", "<eos>", "<sop>") for t in hyp.tokens)
            assert isinstance(hyp.text, str) and "<" not in hyp.text
            print(f"{utt}: ref={text[utt]!r} hyp={hyp.text!r}")
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
