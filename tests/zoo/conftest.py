import shutil
from pathlib import Path

import pytest

from espnet_dynprune.zoo.pack import pack

from .tiny_release import Release, make_release


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
