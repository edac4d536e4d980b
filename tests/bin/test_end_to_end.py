"""Real ESPnet training and decoding of a tiny dynprune model, through stock entry points.

The model is trained by the recipe (``trained_dynprune`` in tests/conftest.py): only the config
keys change (``model: dynprune``, ``encoder: e_branchformer_dynprune``, ``decoder:
transformer_dynprune``); ``python -m espnet2.bin.s2t_train`` and ``python -m
espnet2.bin.s2t_inference`` see them through the installed .pth hook.
"""

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Tuple

import numpy as np
import pytest
import yaml

from espnet_dynprune.data.espeak import read_wav
from espnet_dynprune.inference.speech2text import DynPruneSpeech2Text
from espnet_dynprune.owsm.datadir import read_lines, read_map
from tests.builders.tiny_recipe import TrainedModel

if TYPE_CHECKING:
    from espnet2.bin.s2t_inference import Speech2Text

TEST_SET = "test_epst_fra_asr"


def epoch_losses(train_log: str) -> Dict[int, Tuple[float, float]]:
    """(train, valid) loss by epoch, from ESPnet's ``Nepoch results: [train] ... [valid] ...`` lines."""
    found = re.findall(r"(\d+)epoch results: \[train\] .*?\bloss=([^,]+),.*\[valid\] .*?\bloss=([^,]+),", train_log)
    return {int(epoch): (float(train), float(valid)) for epoch, train, valid in found}


def test_stock_training_entry_point_trains_the_dynprune_model(trained_dynprune: TrainedModel) -> None:
    exp = trained_dynprune.exp_dir
    log = (exp / "train.log").read_text()
    assert "DynPruneS2TModel" in log and "EBranchformerDynPruneEncoder" in log
    for stat in ("enc_sparsity=", "dec_sparsity=", "loss_sparsity=", "enc_keep_cgmlp="):
        assert stat in log, stat
    assert (exp / "2epoch.pth").is_file() and (exp / "valid.acc.ave.pth").is_file()
    losses = epoch_losses(log)
    assert list(losses) == [1, 2]
    assert losses[2][0] < losses[1][0] and losses[2][1] < losses[1][1]  # it learns something


def test_the_saved_config_names_the_classes_features_and_tokens(trained_dynprune: TrainedModel) -> None:
    saved = yaml.safe_load((trained_dynprune.exp_dir / "config.yaml").read_text(encoding="utf-8"))
    assert (saved["model"], saved["encoder"], saved["decoder"]) == ("dynprune", "e_branchformer_dynprune", "transformer_dynprune")
    assert saved["max_epoch"] == 2 and saved["normalize"] == "global_mvn"
    recipe = trained_dynprune.recipe
    assert recipe / saved["normalize_conf"]["stats_file"] == trained_dynprune.stats_dir / "train" / "feats_stats.npz"
    # ESPnet inlines the token list; the bpe model stays a path.
    assert saved["token_list"] == read_lines(trained_dynprune.token_dir / "tokens.txt")
    assert recipe / saved["bpemodel"] == trained_dynprune.token_dir / "bpe.model"


def speech2text(trained: TrainedModel, beam_size: int = 2, **kwargs) -> "Speech2Text":
    """The packed (float16) model with its config, as stage 12 decodes a model-zoo dir."""
    from espnet2.bin.s2t_inference import Speech2Text

    return Speech2Text(s2t_train_config=str(trained.config), s2t_model_file=str(trained.zoo.model_file),
                       beam_size=beam_size, ctc_weight=0.0, **kwargs)


def first_wav(trained: TrainedModel) -> np.ndarray:
    return read_wav(next(iter(trained.wavs(TEST_SET).values())))


def test_espnet_speech2language_identifies_the_language_of_a_context_gated_model(trained_dynprune):
    from espnet2.bin.s2t_inference_language import Speech2Language

    s2l = Speech2Language(s2t_train_config=str(trained_dynprune.config),
                          s2t_model_file=str(trained_dynprune.zoo.model_file),
                          first_lang_sym="<deu>", last_lang_sym="<fra>", nbest=3)
    assert s2l.s2t_model.encoder.module_types == ("attn", "cgmlp", "ffn2")
    wav = first_wav(trained_dynprune)
    for forced in (None, "on", 0.5):  # predicted ("not known" context), dense, ranked sparsity
        s2l.s2t_model.force_gates(forced)
        found = s2l(wav)
        assert sorted(lang for lang, _ in found) == ["<deu>", "<eng>", "<fra>"]
        assert abs(sum(p for _, p in found) - 1.0) < 1e-4
    assert s2l.s2t_model.encoder.last_gates.keep.float().mean() == 0.5


def test_speech2text_without_a_language_identifies_it_then_prunes_with_it(trained_dynprune):
    s2t = speech2text(trained_dynprune, lang_sym=None)
    wav = first_wav(trained_dynprune)
    identified = s2t.identify_language(wav)
    assert identified in ("<deu>", "<eng>", "<fra>")
    hyp = s2t(wav, task_sym="<asr>")[0][-1]
    assert hyp.yseq[1].item() == s2t.converter.token2id[identified]
    auto_gates = s2t.s2t_model.last_gates()
    s2t(wav, lang_sym=identified, task_sym="<asr>")
    assert s2t.s2t_model.last_gates() == auto_gates  # pruned exactly as with the language given


def test_speech2text_decodes_with_language_and_task(trained_dynprune):
    s2t = speech2text(trained_dynprune)
    wav = first_wav(trained_dynprune)
    for lang, task in (("<fra>", "<asr>"), ("<deu>", "<st_eng>")):
        _, tokens, _, text_nospecial, hyp = s2t(wav, lang_sym=lang, task_sym=task)[0]
        assert hyp.yseq[1:3].tolist() == [s2t.converter.token2id[lang], s2t.converter.token2id[task]]
        # Speech2Text strips <sos>; the next tokens are the forced primer, then the output.
        assert tokens[:3] == [lang, task, "<notimestamps>"], tokens
        assert not {"<sos>", "<eos>", "<sop>"} & set(tokens)
        assert isinstance(text_nospecial, str) and "<" not in text_nospecial
    gates = s2t.s2t_model.last_gates()
    assert set(gates) == {"encoder", "decoder"} and "layer0.cgmlp" in gates["encoder"]
    s2t.s2t_model.force_gates("on")
    s2t(wav, lang_sym="<fra>", task_sym="<asr>")
    assert s2t.s2t_model.encoder.last_gates.keep.all()
    with pytest.raises(ValueError, match=r"unknown language symbol '<ita>'; valid: .*<deu>.*<fra>"):
        s2t(wav, lang_sym="<ita>", task_sym="<asr>")


def _decode_on_the_command_line(trained_dynprune, out: Path, entry: str, *extra: str) -> dict:
    """1-best tokens per utterance of the French->English test set, decoded by ``python -m entry``."""
    wav_scp = trained_dynprune.dump_dir / "test_epst_fra_st_eng" / "wav.scp"
    subprocess.run(  # in the recipe dir, as stage 12 runs: wav.scp paths are relative to it
        [sys.executable, "-m", entry, "--ngpu", "0", "--beam_size", "2", "--ctc_weight", "0.0",
         "--data_path_and_name_and_type", f"{wav_scp},speech,sound",
         "--s2t_train_config", str(trained_dynprune.config),
         "--s2t_model_file", str(trained_dynprune.zoo.model_file),
         "--output_dir", str(out), "--lang_sym", "fra", "--task_sym", "st_eng", *extra],
        check=True, capture_output=True, text=True, cwd=trained_dynprune.recipe,
    )
    return read_map(out / "1best_recog" / "token")


@pytest.mark.parametrize("entry", ["espnet2.bin.s2t_inference", "espnet_dynprune.bin.s2t_inference"])
def test_command_line_decoding(trained_dynprune, tmp_path, entry):
    wav_scp = trained_dynprune.dump_dir / "test_epst_fra_st_eng" / "wav.scp"
    hyps = _decode_on_the_command_line(trained_dynprune, tmp_path / "decode", entry)
    assert set(hyps) == set(read_map(wav_scp))
    assert all(h.split()[:2] == ["<fra>", "<st_eng>"] for h in hyps.values())


def test_espnets_batched_command_line_gives_the_one_at_a_time_hypotheses(trained_dynprune, tmp_path):
    """ESPnet 202611's ``s2t_inference --batch_size N`` calls ``Speech2Text.batch_decode`` (the plugin's)."""
    if not hasattr(DynPruneSpeech2Text.__mro__[1], "batch_decode"):
        pytest.skip("ESPnet 202511's s2t_inference decodes one utterance at a time")
    entry = "espnet2.bin.s2t_inference"
    alone = _decode_on_the_command_line(trained_dynprune, tmp_path / "alone", entry)
    assert _decode_on_the_command_line(trained_dynprune, tmp_path / "batched", entry, "--batch_size", "3") == alone


def test_asr_task_sees_the_encoder_and_decoder():
    out = subprocess.run(
        [sys.executable, "-m", "espnet2.bin.asr_train", "--print_config",
         "--encoder", "e_branchformer_dynprune", "--decoder", "transformer_dynprune"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "encoder: e_branchformer_dynprune" in out and "sparsity_target" in out


def stock_config(trained: TrainedModel, path: Path) -> Path:
    """The trained model's config with ESPnet's own encoder, decoder and model (same weights)."""
    import inspect

    from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
    from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
    from espnet2.s2t.espnet_model import ESPnetS2TModel

    config = yaml.safe_load(trained.config.read_text())
    for key, name, cls in (("encoder", "e_branchformer", EBranchformerEncoder),
                           ("decoder", "transformer", TransformerDecoder),
                           ("model", "espnet", ESPnetS2TModel)):
        config[key] = name
        accepted = inspect.signature(cls.__init__).parameters
        config[f"{key}_conf"] = {k: v for k, v in config[f"{key}_conf"].items() if k in accepted}
    path.write_text(yaml.safe_dump(config))
    return path


def test_cached_beam_search_gives_stock_hypotheses_with_kv_projected_once(trained_dynprune, tmp_path):
    """Dense dynprune (gates on, source K/V once per utterance) == stock ESPnet, beam 5."""
    from espnet2.bin.s2t_inference import Speech2Text

    stock = Speech2Text(s2t_train_config=str(stock_config(trained_dynprune, tmp_path / "stock.yaml")),
                        s2t_model_file=str(trained_dynprune.zoo.model_file), beam_size=5, ctc_weight=0.0)
    dyn = speech2text(trained_dynprune, beam_size=5)
    dyn.s2t_model.force_gates("on")
    assert type(stock.s2t_model.decoder).__name__ == "TransformerDecoder"
    projections = []
    dyn.s2t_model.decoder.decoders[0].src_attn.linear_k.register_forward_hook(
        lambda m, a, o: projections.append(a[0].size(0)))
    wavs = list(trained_dynprune.wavs(TEST_SET).values())
    for wav_path in wavs:
        wav = read_wav(wav_path)
        for lang, task in (("<fra>", "<asr>"), ("<deu>", "<st_eng>")):
            expected = [h[-1].yseq.tolist() for h in stock(wav, lang_sym=lang, task_sym=task)]
            got = [h[-1].yseq.tolist() for h in dyn(wav, lang_sym=lang, task_sym=task)]
            assert got == expected
    assert projections == [1] * (2 * len(wavs))


def test_speech2text_refuses_what_is_not_speech_and_says_what_it_cuts(trained_dynprune, tmp_path, caplog):
    """Through ESPnet's own Speech2Text class (the plugin's, installed in its place), stock and dynprune."""
    from espnet2.bin.s2t_inference import Speech2Text

    stock = Speech2Text(s2t_train_config=str(stock_config(trained_dynprune, tmp_path / "stock.yaml")),
                        s2t_model_file=str(trained_dynprune.zoo.model_file), beam_size=2, ctc_weight=0.0)
    wav = first_wav(trained_dynprune)
    for s2t in (stock, speech2text(trained_dynprune)):
        with pytest.raises(ValueError, match="shorter than 0.1 s: nothing to transcribe"):
            s2t(np.zeros(0, np.float32), lang_sym="<fra>", task_sym="<asr>")
        with pytest.raises(ValueError, match="NaN or infinite samples"):
            s2t(np.full(16000, np.nan, np.float32), lang_sym="<fra>", task_sym="<asr>")
        with pytest.raises(ValueError, match=r"unknown language symbol '<jpn>'; valid: <deu> <eng> <fra>"):
            s2t(wav, lang_sym="<jpn>", task_sym="<asr>")
        as_float = s2t(wav, lang_sym="<fra>", task_sym="<asr>")[0][2]
        as_int16 = s2t((wav * 32767).round().astype(np.int16), lang_sym="<fra>", task_sym="<asr>")[0][2]
        assert as_int16 == as_float  # int16 PCM is converted, not decoded 32768 times too loud
    window = stock.preprocessor_conf["speech_length"]
    with caplog.at_level("WARNING"):
        stock(np.tile(wav, 2), lang_sym="<fra>", task_sym="<asr>")
    assert f"longer than the model's {window:g} s input window" in caplog.text
    with pytest.raises(ValueError, match=r"unknown task symbol '<st_jpn>'; valid: <asr> <st_eng>"):
        speech2text(trained_dynprune, task_sym="<st_jpn>")
    cut = tmp_path / "cut.pth"
    cut.write_bytes(trained_dynprune.zoo.model_file.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"cut.pth is a truncated or damaged PyTorch checkpoint"):
        Speech2Text(s2t_train_config=str(trained_dynprune.config), s2t_model_file=str(cut))
