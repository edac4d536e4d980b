"""Real ESPnet training and decoding of a tiny dynprune model, through stock entry points.

Only the config keys change (``model: dynprune``, ``encoder: e_branchformer_dynprune``,
``decoder: transformer_dynprune``); ``python -m espnet2.bin.s2t_train`` and
``python -m espnet2.bin.s2t_inference`` see them through the installed .pth hook.
"""

import subprocess
import sys

import pytest

from espnet_dynprune.data.espeak import read_wav
from espnet_dynprune.data.tiny_corpus import build_tiny_corpus
from espnet_dynprune.data.tiny_training import best_model_file, speech_length_for, train, write_s2t_config
from espnet_dynprune.owsm.datadir import read_map


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    corpus = work / "corpus"
    build_tiny_corpus(corpus, langs=["fra", "deu"], sizes={"train": 12, "dev": 2, "test": 2})
    # Not OWSM's macaron layout, and ESPnet's layer drop, to show any E-Branchformer config trains;
    # context dropout trains the "not known" context that language identification uses.
    gating = {"sparsity_target": 0.5, "context_dropout": 0.3, "layer_drop_rate": 0.1}
    config = write_s2t_config(
        work / "train.yaml", speech_length=speech_length_for(corpus), output_size=32,
        linear_units=64, encoder="e_branchformer_dynprune", decoder="transformer_dynprune",
        model="dynprune", encoder_extra={**gating, "macaron_ffn": False}, decoder_extra=gating,
        max_epoch=2,
    )
    run = train(corpus, config, work / "exp", entry_module="espnet2.bin.s2t_train")
    return corpus, run


def test_stock_training_entry_point_trains_the_dynprune_model(trained):
    _, run = trained
    log = (run.exp_dir / "train.log").read_text()
    assert "DynPruneS2TModel" in log and "EBranchformerDynPruneEncoder" in log
    for stat in ("enc_sparsity=", "dec_sparsity=", "loss_sparsity=", "enc_keep_cgmlp="):
        assert stat in log, stat
    assert "2epoch results" in log and best_model_file(run.exp_dir).exists()


def speech2text(run, beam_size=2, **kwargs):
    from espnet2.bin.s2t_inference import Speech2Text

    return Speech2Text(s2t_train_config=str(run.config), s2t_model_file=str(run.model_file),
                       beam_size=beam_size, ctc_weight=0.0, **kwargs)


def test_espnet_speech2language_identifies_the_language_of_a_context_gated_model(trained):
    from espnet2.bin.s2t_inference_language import Speech2Language

    corpus, run = trained
    s2l = Speech2Language(s2t_train_config=str(run.config), s2t_model_file=str(run.model_file),
                          first_lang_sym="<deu>", last_lang_sym="<fra>", nbest=3)
    assert s2l.s2t_model.encoder.module_types == ("attn", "cgmlp", "ffn2")
    wav = read_wav(next(iter(read_map(corpus / "data" / "test" / "wav.scp").values())))
    for forced in (None, "on", 0.5):  # predicted ("not known" context), dense, ranked sparsity
        s2l.s2t_model.force_gates(forced)
        found = s2l(wav)
        assert sorted(lang for lang, _ in found) == ["<deu>", "<eng>", "<fra>"]
        assert abs(sum(p for _, p in found) - 1.0) < 1e-4
    assert s2l.s2t_model.encoder.last_gates.keep.float().mean() == 0.5


def test_speech2text_without_a_language_identifies_it_then_prunes_with_it(trained):
    corpus, run = trained
    s2t = speech2text(run, lang_sym=None)
    wav = read_wav(next(iter(read_map(corpus / "data" / "test" / "wav.scp").values())))
    identified = s2t.identify_language(wav)
    assert identified in ("<deu>", "<eng>", "<fra>")
    hyp = s2t(wav, task_sym="<asr>")[0][-1]
    assert hyp.yseq[1].item() == s2t.converter.token2id[identified]
    auto_gates = s2t.s2t_model.last_gates()
    s2t(wav, lang_sym=identified, task_sym="<asr>")
    assert s2t.s2t_model.last_gates() == auto_gates  # pruned exactly as with the language given


def test_speech2text_decodes_with_language_and_task(trained):
    corpus, run = trained
    s2t = speech2text(run)
    wav = read_wav(next(iter(read_map(corpus / "data" / "test" / "wav.scp").values())))
    for lang, task in (("<fra>", "<asr>"), ("<deu>", "<st_eng>")):
        _, tokens, _, _, hyp = s2t(wav, lang_sym=lang, task_sym=task)[0]
        assert hyp.yseq[1:3].tolist() == [s2t.converter.token2id[lang], s2t.converter.token2id[task]]
    gates = s2t.s2t_model.last_gates()
    assert set(gates) == {"encoder", "decoder"} and "layer0.cgmlp" in gates["encoder"]
    s2t.s2t_model.force_gates("on")
    s2t(wav, lang_sym="<fra>", task_sym="<asr>")
    assert s2t.s2t_model.encoder.last_gates.keep.all()
    with pytest.raises(ValueError, match=r"unknown language symbol '<ita>'; valid: .*<deu>.*<fra>"):
        s2t(wav, lang_sym="<ita>", task_sym="<asr>")


@pytest.mark.parametrize("entry", ["espnet2.bin.s2t_inference", "espnet_dynprune.bin.s2t_inference"])
def test_command_line_decoding(trained, tmp_path, entry):
    corpus, run = trained
    wav_scp = corpus / "data" / "test" / "wav.scp"
    out = tmp_path / "decode"
    subprocess.run(
        [sys.executable, "-m", entry, "--ngpu", "0", "--beam_size", "2", "--ctc_weight", "0.0",
         "--data_path_and_name_and_type", f"{wav_scp},speech,sound",
         "--s2t_train_config", str(run.config), "--s2t_model_file", str(run.model_file),
         "--output_dir", str(out), "--lang_sym", "fra", "--task_sym", "st_eng"],
        check=True, capture_output=True, text=True,
    )
    hyps = read_map(out / "1best_recog" / "token")
    assert set(hyps) == set(read_map(wav_scp))
    assert all(h.split()[:2] == ["<fra>", "<st_eng>"] for h in hyps.values())


def test_asr_task_sees_the_encoder_and_decoder():
    out = subprocess.run(
        [sys.executable, "-m", "espnet2.bin.asr_train", "--print_config",
         "--encoder", "e_branchformer_dynprune", "--decoder", "transformer_dynprune"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert "encoder: e_branchformer_dynprune" in out and "sparsity_target" in out


def stock_config(run, path):
    """The trained run's config with ESPnet's own encoder, decoder and model (same weights)."""
    import inspect

    import yaml
    from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
    from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
    from espnet2.s2t.espnet_model import ESPnetS2TModel

    config = yaml.safe_load(run.config.read_text())
    for key, name, cls in (("encoder", "e_branchformer", EBranchformerEncoder),
                           ("decoder", "transformer", TransformerDecoder),
                           ("model", "espnet", ESPnetS2TModel)):
        config[key] = name
        accepted = inspect.signature(cls.__init__).parameters
        config[f"{key}_conf"] = {k: v for k, v in config[f"{key}_conf"].items() if k in accepted}
    path.write_text(yaml.safe_dump(config))
    return path


def test_cached_beam_search_gives_stock_hypotheses_with_kv_projected_once(trained, tmp_path):
    """Dense dynprune (gates on, source K/V once per utterance) == stock ESPnet, beam 5."""
    from espnet2.bin.s2t_inference import Speech2Text

    corpus, run = trained
    stock = Speech2Text(s2t_train_config=str(stock_config(run, tmp_path / "stock.yaml")),
                        s2t_model_file=str(run.model_file), beam_size=5, ctc_weight=0.0)
    dyn = speech2text(run, beam_size=5)
    dyn.s2t_model.force_gates("on")
    assert type(stock.s2t_model.decoder).__name__ == "TransformerDecoder"
    projections = []
    dyn.s2t_model.decoder.decoders[0].src_attn.linear_k.register_forward_hook(
        lambda m, a, o: projections.append(a[0].size(0)))
    wavs = list(read_map(corpus / "data" / "test" / "wav.scp").values())
    for wav_path in wavs:
        wav = read_wav(wav_path)
        for lang, task in (("<fra>", "<asr>"), ("<deu>", "<st_eng>")):
            expected = [h[-1].yseq.tolist() for h in stock(wav, lang_sym=lang, task_sym=task)]
            got = [h[-1].yseq.tolist() for h in dyn(wav, lang_sym=lang, task_sym=task)]
            assert got == expected
    assert projections == [1] * (2 * len(wavs))
