"""Session-wide test fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from espnet_dynprune.analysis import owsm_architecture
from espnet_dynprune.zoo.finetune_config import deep_merge
from espnet_dynprune.zoo.pack import pack
from tests.builders.corpus_files import make_voxforge_corpus
from tests.builders.slurm_cluster import SlurmUnavailable, start_cluster
from tests.builders.tiny_decoding import write_test_set, write_tiny_model
from tests.builders.tiny_recipe import TrainedModel, tiny_config, train_with_recipe
from tests.builders.tiny_release import Release, make_release

#: Not OWSM's macaron layout, and ESPnet's layer drop, to show any E-Branchformer config trains;
#: context dropout trains the "not known" context that language identification uses.
GATING = {"sparsity_target": 0.5, "context_dropout": 0.3, "layer_drop_rate": 0.1}
DYNPRUNE = {
    "encoder": "e_branchformer_dynprune", "decoder": "transformer_dynprune", "model": "dynprune",
    "encoder_conf": {**GATING, "macaron_ffn": False}, "decoder_conf": GATING,
    # 6 updates an epoch: a short warm-up and a high rate, so that 2 epochs learn something.
    "optim_conf": {"lr": 2.0e-3}, "scheduler_conf": {"warmup_steps": 30},
    "batch_size": 8, "max_epoch": 2, "keep_nbest_models": 1,
    "preprocessor_conf": {"speech_length": 4.0},  # the mini corpus pads to 3.95 s below
}  # fmt: skip


TINY_OWSM = {"output_size": 32, "attention_heads": 4, "linear_units": 64, "cgmlp_linear_units": 64, "num_blocks": 2}


@pytest.fixture(scope="session")
def tiny_size(tmp_path_factory) -> str:
    """The OWSM v3.1 base drop-in config at a tiny size (any dynprune config file can be benchmarked)."""
    config = yaml.safe_load(owsm_architecture.config_file("base").read_text())
    decoder = {k: TINY_OWSM[k] for k in ("attention_heads", "linear_units", "num_blocks")}
    deep_merge(config, {"encoder_conf": TINY_OWSM, "decoder_conf": decoder})
    path = tmp_path_factory.mktemp("conf") / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """The CLIs set one torch thread per job; give the rest of the test session its threads back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def speech():
    """Three utterances of 20-dim features, of three lengths."""
    torch.manual_seed(1)
    return torch.randn(3, 40, 20), torch.tensor([40, 33, 25])


@pytest.fixture
def unused_tcp_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def trained_dynprune(tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A tiny dynprune model trained once per session by the recipe from scratch (fr + de, ASR and
    ST, 12 training sentences per language, 2 epochs; about half a minute on 2 CPU cores)."""
    if shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None:
        pytest.skip("espeak-ng and ffmpeg are needed (apt-get install espeak-ng ffmpeg)")
    return train_with_recipe(
        tmp_path_factory.mktemp("trained_dynprune"), tiny_config(DYNPRUNE), num_pieces=60, europarl_st_langs="fr de",
        mini_corpus_opts="--europarl_langs fr,de --fleurs_langs= --train 12 --dev 2 --test 2 --segment_seconds 3.95",
    )


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    return make_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="session")
def packed(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fp32 model-zoo directory; copy it (``zoo_copy``) before changing it."""
    out = tmp_path_factory.mktemp("packed") / "zoo"
    pack(release.config, release.model_file, out, provenance="tiny test model")
    return out


@pytest.fixture
def zoo_copy(packed: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(packed, tmp_path / "zoo"))


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    """A real single-node Slurm for the session (tests/builders/slurm_cluster.py); skipped, with the reason,
    where it cannot be installed or started."""
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    except SlurmUnavailable as reason:
        pytest.skip(f"no Slurm cluster: {reason}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def voxforge_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FLEURS-only mini corpus with its VoxForge add-on (tests/builders/corpus_files.py), generated
    once per session; a test that changes it puts it back."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed (apt-get install espeak-ng)")
    return make_voxforge_corpus(tmp_path_factory.mktemp("mini_voxforge"))


@pytest.fixture(scope="session")
def flops_models(tmp_path_factory: pytest.TempPathFactory):
    """``((config, model file), dynprune model, stock model)``: a tiny dynprune model's files and the
    model, and the stock model of the same weights (its gate keys ignored)."""
    from espnet2.tasks.s2t import S2TTask

    work = tmp_path_factory.mktemp("flops")
    (work / "dyn").mkdir()
    files = write_tiny_model(work / "dyn")
    stock_config, _ = write_tiny_model(work, dynprune=False)
    dyn, _ = S2TTask.build_model_from_file(*files, "cpu")
    stock, _ = S2TTask.build_model_from_file(stock_config, files[1], "cpu")  # gate keys ignored
    return files, dyn, stock


@pytest.fixture(scope="session")
def flop_counter(flops_models):
    """The dynprune model's counter (2 s of speech, beam 3, <fra><asr>), shared so that each gate
    pattern is traced once per session."""
    from espnet_dynprune.analysis import flops

    return flops.FlopCounter(flops_models[1], 2.0, 3, "<fra>", "<asr>")


@pytest.fixture(scope="session")
def decoded_test_sets(tmp_path_factory: pytest.TempPathFactory):
    """``(work dir, decode root)``: stage 12's layout, EXP/decode_x_gates_on/{test_fra_asr,test_fra_st_eng,
    test_not_decoded}, of a tiny model; the last has no decode_summary.json."""
    from espnet_dynprune.recipe import decode

    work = tmp_path_factory.mktemp("score_decodes")
    config, model_file = write_tiny_model(work)
    root = work / "exp" / "decode_x_gates_on"
    for name, task in (("test_fra_asr", "asr"), ("test_fra_st_eng", "st_eng")):
        data = write_test_set(work / "dump" / name, count=2, task=task)
        decode.decode(data, root / name, config, model_file, beam_size=2, maxlenratio=0.5, gates="on", warmup=0)
    (root / "test_not_decoded").mkdir()  # no decode_summary.json: skipped
    return work, root
