import pytest
import torch
from espnet2.s2t.espnet_model import ESPnetS2TModel

from espnet_dynprune.models.dynprune import DynPruneS2TModel
from espnet_dynprune.nets.checkpoint import load_pretrained
from tests.builders.tiny_s2t import batch, build_model


def test_espnet_builds_the_registered_model():
    model = build_model()
    assert isinstance(model, DynPruneS2TModel) and isinstance(model, ESPnetS2TModel)
    assert model.context_vocabulary.languages == ["<deu>", "<eng>", "<fra>"]
    assert model.context_vocabulary.tasks == ["<asr>", "<st_eng>"]


def test_loss_adds_weighted_squared_sparsity_terms_and_reports_stats():
    torch.manual_seed(0)
    model = build_model({"sparsity_target": 0.3}, {"sparsity_target": 0.7},
                        {"sparsity_loss_weight": 5.0, "ctc_weight": 0.3})
    loss, stats, _ = model(**batch(4))
    enc = model.encoder.last_gates.realised_sparsity().item()
    dec = model.decoder.last_gates.realised_sparsity().item()
    expected = (enc - 0.3) ** 2 + (dec - 0.7) ** 2
    assert stats["loss_sparsity"].item() == pytest.approx(expected, abs=1e-6)
    assert stats["enc_sparsity"].item() == pytest.approx(enc, abs=1e-6)
    for key in ("enc_sparsity_flops", "dec_sparsity_flops", "enc_keep_ffn1", "enc_keep_attn",
                "enc_keep_cgmlp", "enc_keep_ffn2", "dec_keep_self_attn", "dec_keep_src_attn",
                "dec_keep_ffn", "loss_att", "acc"):
        assert key in stats, key
    base = stats["loss"].item() - 5.0 * expected
    assert loss.item() == pytest.approx(stats["loss"].item(), rel=1e-6) and base > 0
    loss.sum().backward()
    for part in (model.encoder, model.decoder):
        predictor = part.gate_predictor
        assert predictor.language_embed.weight.grad.abs().sum() > 0
        assert predictor.mlp[0].weight.grad.abs().sum() > 0


def test_dense_parts_add_no_sparsity_loss():
    model = build_model({"gate_predictor": "none"}, {"gate_predictor": "none"})
    _, stats, _ = model(**batch())
    assert stats["loss_sparsity"].item() == 0.0
    assert stats["enc_sparsity"].item() == 0.0


def test_a_target_without_language_trains_with_the_not_known_context_and_is_counted():
    model = build_model()
    data = batch()
    _, stats, _ = model(**data)
    assert stats["context_unknown"].item() == 0
    data["text"][0, 0] = 10  # 'a' where <lang> belongs, as ESPnet's own test targets put <na> there
    loss, stats, _ = model(**data)
    assert torch.isfinite(loss) and stats["context_unknown"].item() == 1


def test_inference_context_rejects_unknown_symbols_listing_valid_ones():
    model = build_model()
    with pytest.raises(ValueError, match=r"unknown language symbol '<jpn>'; valid: <deu> <eng> <fra>"):
        with model.inference_context("<jpn>", "<asr>"):
            pass
    with pytest.raises(ValueError, match=r"unknown task symbol '<st_deu>'; valid: <asr> <st_eng>"):
        with model.inference_context("<fra>", "<st_deu>"):
            pass


def test_encode_uses_the_inference_context_and_forcing_api():
    model = build_model().eval()
    speech = torch.randn(1, 60, 20)
    with model.inference_context("<fra>", "<asr>"):
        model.encode(speech, torch.tensor([60]))
    assert model.last_gates()["encoder"]["layer0.ffn1"] in ([True], [False])
    model.force_gates("off", part="encoder")
    with model.inference_context("<fra>", "<asr>"):
        model.encode(speech, torch.tensor([60]))
    assert not model.encoder.last_gates.keep.any()
    with pytest.raises(ValueError, match="no gated part 'ctc'"):
        model.force_gates("on", part="ctc")


def test_stock_checkpoint_loads_strictly_except_gate_predictors(tmp_path):
    model = build_model()
    stock = {k: v for k, v in model.state_dict().items() if ".gate_predictor." not in k}
    torch.save(stock, tmp_path / "stock.pth")
    left = load_pretrained(model, tmp_path / "stock.pth")
    assert left and all(".gate_predictor." in k for k in left)
    typo = dict(stock)
    typo["encoder.encoders.0.atn.linear_q.weight"] = typo.pop("encoder.encoders.0.attn.linear_q.weight")
    with pytest.raises(KeyError) as error:
        load_pretrained(model, typo)
    message = str(error.value)
    assert "missing keys (1)" in message and "unexpected keys (1)" in message
    assert "encoder.encoders.0.atn.linear_q.weight" in message
    assert "did you mean encoder.encoders.0.attn.linear_q.weight" in message
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        load_pretrained(model, tmp_path / "nothere.pth")


def test_a_renamed_key_is_paired_with_the_key_it_renames_and_the_message_has_real_lines(tmp_path):
    model = build_model()
    state = {k: v for k, v in model.state_dict().items() if ".gate_predictor." not in k}
    w1 = "decoder.decoders.0.feed_forward.w_1.weight"
    state[w1.replace("w_1", "w_one")] = state.pop(w1)  # w_2 is as close by spelling, but present
    with pytest.raises(KeyError) as error:
        load_pretrained(model, state)
    lines = str(error.value).splitlines()
    assert f"  {w1}  (did you mean {w1.replace('w_1', 'w_one')}?)" in lines
    assert f"  {w1.replace('w_1', 'w_one')}  (did you mean {w1}?)" in lines
    assert "\\n" not in str(error.value)


def test_a_truncated_checkpoint_is_named(tmp_path):
    model = build_model()
    whole = tmp_path / "whole.pth"
    torch.save(model.state_dict(), whole)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.pth is a truncated or damaged PyTorch checkpoint"):
        load_pretrained(model, cut)


@pytest.mark.parametrize("predictor", ["speech", "none"])
def test_targets_without_a_language_train_when_no_part_reads_the_context(predictor):
    """ESPnetS2TModel takes any target; only a context-aware predictor needs <lang><task>."""
    model = build_model({"gate_predictor": predictor}, {"gate_predictor": predictor})
    data = batch()
    data["text"][:, 0] = 2  # <na> where <lang> belongs
    loss, _, _ = model(**data)
    assert torch.isfinite(loss)


def test_encode_without_a_context_uses_the_not_known_one():
    model = build_model().eval()
    speech, lens = torch.randn(1, 60, 20), torch.tensor([60])
    with model.inference_context(None, None):
        model.encode(speech, lens)
    unknown = model.encoder.last_gates.keep
    model.encode(speech, lens)
    assert torch.equal(model.encoder.last_gates.keep, unknown)
    with pytest.raises(ValueError, match="both a language and a task symbol or neither"):
        with model.inference_context("<fra>", None):
            pass


def test_a_spec_that_fits_one_part_only_forces_neither():
    model = build_model().eval()  # encoder: 2 layers x 4 gates, decoder: 2 layers x 3 gates
    decoder_mask = torch.ones(len(model.decoder.gate_names))
    model.force_gates("off")
    with pytest.raises(ValueError, match=r"cannot force the encoder's 8 gates: gate mask of shape \(6,\)"):
        model.force_gates(decoder_mask)
    assert model.encoder.gate_predictor.forcing.spec == "off" == model.decoder.gate_predictor.forcing.spec
    model.force_gates(decoder_mask, part="decoder")
    assert model.decoder.gate_predictor.forcing.spec.all()


def test_a_batch_mask_on_another_batch_size_is_a_clear_error():
    model = build_model().eval()
    model.force_gates(torch.ones(3, len(model.encoder.gate_names)), part="encoder")
    with pytest.raises(ValueError, match=r"has B = 3 rows but the batch has 1 utterance\(s\); force a \(G,\) mask"):
        model.encode(torch.randn(1, 60, 20), torch.tensor([60]))
