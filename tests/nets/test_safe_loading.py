"""A model file must never run code: every loader, ESPnet's and the plugin's, refuses a payload
(naming the file, the payload never running) and still loads real ESPnet files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from espnet_dynprune.nets import safe_loading
from espnet_dynprune.nets.espnet_compat import ESPNET_LOAD_REFUSALS
from espnet_dynprune.nets.safe_loading import UnsafeModelFileError


class Payload:
    """Unpickling it would create ``marker`` (``open(marker, "w")``): the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture
def payload_file(trained_dynprune, tmp_path) -> tuple[Path, Path]:
    """The trained model's real weights plus one payload object, saved as a .pth; and its marker."""
    marker = tmp_path / "payload_ran"
    state = torch.load(trained_dynprune.zoo.model_file, weights_only=True)
    state["encoder.payload"] = Payload(marker)
    path = tmp_path / "evil.pth"
    torch.save(state, path)
    return path, marker


def _refused(call, path: Path, marker: Path) -> None:
    """Refused naming the file and the object, by the plugin or by ESPnet's own safe loader (202611)."""
    with pytest.raises((UnsafeModelFileError, *ESPNET_LOAD_REFUSALS)) as error:
        call()
    message = str(error.value) + str(error.value.__cause__ or "")
    assert path.name in message and "Unsupported global" in message
    if isinstance(error.value, UnsafeModelFileError):
        assert "refused to load" in message and "Nothing of it ran" in message
    assert not marker.exists()


def test_espnets_own_loaders_refuse_a_payload(trained_dynprune, payload_file):
    from espnet2.bin.s2t_inference import Speech2Text  # the plugin's subclass, installed by the hook
    from espnet2.tasks.s2t import S2TTask
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    path, marker = payload_file
    config = trained_dynprune.config
    _refused(lambda: S2TTask.build_model_from_file(config, path, "cpu"), path, marker)
    _refused(lambda: Speech2Text(s2t_train_config=str(config), s2t_model_file=str(path)), path, marker)
    model, _ = S2TTask.build_model_from_file(config, trained_dynprune.zoo.model_file, "cpu")
    _refused(lambda: load_pretrained_model(str(path), model, ignore_init_mismatch=False), path, marker)  # --init_param


def test_the_plugins_loaders_refuse_a_payload(trained_dynprune, payload_file, tmp_path):
    from espnet_dynprune.bin import export_pruned
    from espnet_dynprune.nets.checkpoint import checkpoint_size, load_pretrained
    from espnet_dynprune.recipe.decode import load_speech2text
    from espnet_dynprune.zoo.pack import pack

    path, marker = payload_file
    config = trained_dynprune.config
    model = load_speech2text(config, trained_dynprune.zoo.model_file).s2t_model
    _refused(lambda: load_pretrained(model, path), path, marker)
    _refused(lambda: checkpoint_size(path), path, marker)
    _refused(lambda: load_speech2text(config, path), path, marker)  # the recipe's decoding (stage 12)
    _refused(lambda: pack(config, path, tmp_path / "zoo"), path, marker)
    _refused(lambda: export_pruned.main(["--s2t_train_config", str(config), "--s2t_model_file", str(path),
                                         "--output_dir", str(tmp_path / "exported")]), path, marker)


def test_stock_espnet_in_a_fresh_interpreter_refuses_a_payload(trained_dynprune, payload_file):
    path, marker = payload_file
    code = ("from espnet2.tasks.s2t import S2TTask; "
            f"S2TTask.build_model_from_file({str(trained_dynprune.config)!r}, {str(path)!r}, 'cpu')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    refusals = [e.__name__ for e in (UnsafeModelFileError, *ESPNET_LOAD_REFUSALS)]
    assert proc.returncode != 0 and any(name in proc.stderr for name in refusals), proc.stderr[-2000:]
    assert not marker.exists()


def test_espnets_training_checkpoint_still_resumes(trained_dynprune, monkeypatch):
    """ESPnet's checkpoint.pth (model, optimizer, scheduler, reporter with numpy scalars and
    timedeltas) through ESPnet's own Trainer.resume, as ``--resume true`` runs it."""
    from espnet2.tasks.s2t import S2TTask
    from espnet2.train.reporter import Reporter
    from espnet2.train.trainer import Trainer

    checkpoint = trained_dynprune.exp_dir / "checkpoint.pth"
    monkeypatch.chdir(trained_dynprune.recipe)  # the training config's paths are the recipe's
    model, _ = S2TTask.build_model_from_file(trained_dynprune.exp_dir / "config.yaml", None, "cpu")
    optimizer = torch.optim.Adam(model.parameters())
    reporter = Reporter()
    Trainer.resume(checkpoint, model, reporter, [optimizer], [None], scaler=None)
    assert reporter.get_epoch() == 2 and optimizer.state  # the trained epochs and Adam's moments came back


def test_a_plain_state_dict_loads_and_the_guard_leaves_other_torch_alone(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"w": torch.ones(2)}, path)
    assert torch.equal(safe_loading.safe_load(path, weights_only=False)["w"], torch.ones(2))
    import espnet2.train.trainer as trainer

    assert trainer.torch.load is safe_loading.safe_load and trainer.torch.Tensor is torch.Tensor
    assert torch.load is not safe_loading.safe_load  # torch itself is untouched
