"""Fine-tuning configs merged from a pretrained model's: what each prune setting swaps in, refusals, weight checks."""

from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.zoo.finetune_config import finetune_config, merge_finetune_config, verify_weights
from espnet_dynprune.zoo.model_zoo import ModelZooDir
from tests.builders.tiny_release import FINETUNE


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_merge_takes_network_from_pretrained_and_training_from_finetune(packed: Path) -> None:
    pretrained = ModelZooDir.load(packed).load_config()
    merged = merge_finetune_config(pretrained, FINETUNE)
    assert (merged["encoder"], merged["decoder"], merged["model"]) == (
        "e_branchformer_dynprune", "transformer_dynprune", "dynprune",
    )  # fmt: skip
    enc, dec = merged["encoder_conf"], merged["decoder_conf"]
    assert enc["output_size"] == pretrained["encoder_conf"]["output_size"]
    assert (enc["sparsity_target"], enc["gate_predictor"], enc["gumbel_anneal_steps"]) == (0.3, "context", 100)
    assert (dec["sparsity_target"], dec["gate_predictor"]) == (0.5, "context")
    assert merged["model_conf"]["sparsity_loss_weight"] == 2.0
    assert merged["model_conf"]["ctc_weight"] == pretrained["model_conf"]["ctc_weight"]
    assert merged["preprocessor_conf"]["time_apply_prob"] == 1.0
    assert merged["preprocessor_conf"]["speech_length"] == pretrained["preprocessor_conf"]["speech_length"]
    assert merged["optim"] == "adamw" and merged["max_epoch"] == 3 and merged["optim_conf"] == {"lr": 1.0e-4}
    assert merged["token_list"] == pretrained["token_list"] and Path(merged["bpemodel"]).is_absolute()
    for dropped in ("prune", "prune_conf", "train_data_path_and_name_and_type", "output_dir", "config"):
        assert dropped not in merged


def test_prune_one_part_keeps_the_other_stock(packed: Path) -> None:
    pretrained = ModelZooDir.load(packed).load_config()
    merged = merge_finetune_config(pretrained, {"prune": "decoder", "prune_conf": {"sparsity_target": 0.4}})
    names = (merged["encoder"], merged["decoder"], merged["model"])
    assert names == ("e_branchformer", "transformer_dynprune", "dynprune")
    assert "sparsity_target" not in merged["encoder_conf"]
    plain = merge_finetune_config(pretrained, {"max_epoch": 1})  # prune defaults to none
    assert (plain["encoder"], plain["decoder"]) == ("e_branchformer", "transformer")
    assert plain.get("model", "espnet") == "espnet"


@pytest.mark.parametrize(
    "finetune, message",
    [
        ({"prune": "all"}, "prune: 'all'.*not one of encoder, decoder, both, static, static_decoder, static_both, magnitude, none"),
        ({"prune": "decoder", "encoder_conf": {"sparsity_target": 0.5}}, "encoder_conf .* sets sparsity_target"),
        ({"prune": "none", "prune_conf": {"sparsity_target": 0.5}}, "prune_conf but prune: none"),
        ({"prune": "none", "model_conf": {"sparsity_loss_weight": 1.0}}, "keeps the stock model"),
        ({"prune": "both", "prune_conf": {"sparsity": 0.5}}, "prune_conf .* unknown keys sparsity; valid for prune: both: .*target"),
        ({"encoder_conf": {"layer_sizes": []}}, "sets encoder_conf layer_sizes, which must come from the pretrained"),
        ({"decoder_conf": {"layer_sizes": []}}, "sets decoder_conf layer_sizes, which must come from the pretrained"),
        ({"prune": "static", "decoder_conf": {"prune_groups": ["ffn"]}}, "decoder_conf .* sets prune_groups but "
                                                                           "prune: static keeps the stock decoder"),
        ({"encoder": "conformer"}, "sets encoder, which must come from the pretrained model"),
        ({"max_epochs": 3}, "unknown s2t_train keys max_epochs"),
    ],
)
def test_bad_finetune_configs_are_refused(packed: Path, finetune: dict, message: str) -> None:
    pretrained = ModelZooDir.load(packed).load_config()
    with pytest.raises(ValueError, match=message):
        merge_finetune_config(pretrained, finetune, where="conf/x.yaml")


def test_only_e_branchformer_and_transformer_are_pruned(packed: Path) -> None:
    pretrained = ModelZooDir.load(packed).load_config()
    with pytest.raises(ValueError, match="needs a pretrained encoder: e_branchformer, .* encoder: 'conformer'"):
        merge_finetune_config({**pretrained, "encoder": "conformer"}, {"prune": "encoder"})
    with pytest.raises(ValueError, match="needs a pretrained decoder: transformer"):
        merge_finetune_config({**pretrained, "decoder": "hugging_face_transformers"}, {"prune": "both"})
    kept = merge_finetune_config({**pretrained, "encoder": "conformer"}, {"prune": "decoder"})
    assert kept["encoder"] == "conformer"


def test_check_weights_catches_an_architecture_change(packed: Path, tmp_path: Path) -> None:
    finetune = _write(tmp_path / "finetune.yaml", {"prune": "encoder", "decoder_conf": {"linear_units": 48}})
    pattern = "(?s)cannot load .*valid.acc.ave.pth into the model of .*out.yaml.*size mismatch for decoder"
    (tmp_path / "out.yaml").write_text("# an older run's config\n")
    with pytest.raises(ValueError, match=pattern):
        finetune_config(packed, finetune, tmp_path / "out.yaml", check_weights=True)
    # no config a later stage could train with: neither a new one nor the older one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["finetune.yaml"]


def _batch(tokens: list) -> dict:
    ids = [[tokens.index(t) for t in prefix] for prefix in (("<fra>", "<asr>"), ("<deu>", "<st_eng>"))]
    text = torch.tensor([p + [tokens.index("<notimestamps>"), 1500, 1501] for p in ids])
    na = torch.full((2, 1), tokens.index("<na>"))
    return dict(
        speech=torch.randn(2, 16000), speech_lengths=torch.tensor([16000, 12000]),
        text=text, text_lengths=torch.tensor([5, 5]), text_prev=na, text_prev_lengths=torch.ones(2, dtype=torch.long),
        text_ctc=text[:, 3:], text_ctc_lengths=torch.tensor([2, 2]),
    )  # fmt: skip


@pytest.mark.parametrize("prune, encoder, decoder", [
    ("encoder", "EBranchformerDynPruneEncoder", "TransformerDecoder"),
    ("decoder", "EBranchformerEncoder", "TransformerDynPruneDecoder"),
])  # fmt: skip
def test_pruning_one_part_trains_with_the_other_stock(
    packed: Path, tmp_path: Path, prune: str, encoder: str, decoder: str
) -> None:
    from espnet2.tasks.s2t import S2TTask

    zoo = ModelZooDir.load(packed)
    output = finetune_config(packed, _write(tmp_path / "ft.yaml", {"prune": prune}), tmp_path / "out.yaml")
    model = S2TTask.build_model(S2TTask.get_parser().parse_args(["--config", str(output)]))
    verify_weights(output, zoo)
    assert (type(model).__name__, type(model.encoder).__name__, type(model.decoder).__name__) == (
        "DynPruneS2TModel", encoder, decoder,
    )  # fmt: skip
    loss, stats, _ = model(**_batch(zoo.tokens()))
    loss.backward()
    assert torch.isfinite(loss) and f"{prune[:3]}_sparsity" in stats and "loss_sparsity" in stats


def test_a_config_whose_window_is_shorter_than_the_data_is_not_written(packed: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "utt2num_samples").write_text("u1 16000\nu2 112000\n")  # 1 s and 7 s
    finetune = _write(tmp_path / "finetune.yaml", {"prune": "both", "preprocessor_conf": {"speech_length": 6.0}})
    with pytest.raises(ValueError, match=r"u2 lasts 7.00 s, longer than speech_length=6.0"):
        finetune_config(packed, finetune, tmp_path / "out.yaml", check_lengths_of=[dump])
    assert not (tmp_path / "out.yaml").exists()


@pytest.mark.parametrize("prune, encoder, decoder", [
    ("static", "e_branchformer_prunable", "transformer"),
    ("static_decoder", "e_branchformer", "transformer_prunable"),
    ("static_both", "e_branchformer_prunable", "transformer_prunable"),
])  # fmt: skip
def test_static_pruning_swaps_in_the_masked_parts_with_the_pretrained_file_as_teacher(packed, prune, encoder, decoder):
    pretrained = ModelZooDir.load(packed).load_config()
    finetune = {"prune": prune, "prune_conf": {"sparsity_target": 0.6, "mask_lr_scale": 50.0},
                "decoder_conf": {"prune_groups": ["ffn_units"]} if decoder.endswith("_prunable") else {}}
    merged = merge_finetune_config(pretrained, finetune, model_file="/models/dense.pth")
    assert (merged["encoder"], merged["decoder"], merged["model"]) == (encoder, decoder, "distill_prune")
    assert merged["model_conf"]["teacher_init"] == "/models/dense.pth" and merged["model_conf"]["sparsity_target"] == 0.6
    for part, name in (("encoder", encoder), ("decoder", decoder)):
        assert ("mask_lr_scale" in merged[f"{part}_conf"]) == name.endswith("_prunable")
    if decoder.endswith("_prunable"):
        assert merged["decoder_conf"]["prune_groups"] == ["ffn_units"]


def test_dynamic_pruning_of_a_statically_pruned_decoder_keeps_its_sizes_and_strips_back(packed):
    from espnet_dynprune.zoo.finetune_config import strip_pruning

    pretrained = ModelZooDir.load(packed).load_config()
    sizes = [{"self_attn_qk": [4], "self_attn_vo": [4], "src_attn_qk": [], "src_attn_vo": [], "ffn_units": 3}]
    exported = {**pretrained, "decoder": "transformer_pruned",
                "decoder_conf": {**pretrained["decoder_conf"], "layer_sizes": sizes}}
    merged = merge_finetune_config(exported, {"prune": "decoder"})
    assert (merged["decoder"], merged["decoder_conf"]["layer_sizes"]) == ("transformer_dynprune", sizes)
    assert strip_pruning(merged)["decoder"] == "transformer_pruned"
    with pytest.raises(ValueError, match="prune: static_decoder in x needs a pretrained decoder: transformer, but the "
                                         "pretrained config has decoder: 'transformer_pruned'"):
        merge_finetune_config(exported, {"prune": "static_decoder"}, where="x", model_file="/m.pth")
