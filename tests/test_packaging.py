"""Packaging tests: the .pth ships with regular and editable wheels, it is live
in fresh virtual environments, and it keeps interpreter start-up cheap.

Wheels are built from a copy of the project in ``tmp_path`` with this
interpreter's hatchling (the build backend pyproject.toml names) via the PEP 517 hooks, then installed with this interpreter's pip into a fresh
``venv --without-pip`` environment (``pip --python``); no network is needed.
"""

import csv
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from espnet_dynprune import _import_hook as hook

REPO_ROOT = Path(__file__).resolve().parents[1]
PTH_NAME = "espnet_dynprune.pth"
PROJECT_FILES = ["pyproject.toml", "README.md", PTH_NAME]

CHECK_HOOK = (
    "import sys; print('espnet_dynprune._import_hook' in sys.modules, "
    "any(type(f).__name__ == 'AutoRegisterFinder' for f in sys.meta_path), "
    "'torch' in sys.modules, 'espnet2' in sys.modules)"
)


def _clean_env(**extra):
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", hook.ENV_DISABLE):
        env.pop(key, None)
    env.update(extra)
    return env


def _run(args, cwd=None, env=None, check=True):
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env or _clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {args}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module")
def built_wheels(tmp_path_factory):
    """Build the regular and the editable wheel from a copy of the project."""
    pytest.importorskip("hatchling")
    src = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        shutil.copy2(REPO_ROOT / name, src / name)
    shutil.copytree(
        REPO_ROOT / "espnet_dynprune",
        src / "espnet_dynprune",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (src / "dist-regular").mkdir()
    (src / "dist-editable").mkdir()
    _run(
        [
            sys.executable,
            "-c",
            "from hatchling import build as b; "
            "b.build_wheel('dist-regular'); b.build_editable('dist-editable')",
        ],
        cwd=src,
    )
    (regular,) = (src / "dist-regular").glob("*.whl")
    (editable,) = (src / "dist-editable").glob("*.whl")
    return {"src": src, "regular": regular, "editable": editable}


def _wheel_record(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        record = {
            row[0]: row[1:]
            for row in csv.reader(io.StringIO(zf.read(record_name).decode()))
        }
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(metadata_name).decode()
        pth = zf.read(PTH_NAME) if PTH_NAME in names else None
    return names, record, metadata, pth


@pytest.mark.parametrize("kind", ["regular", "editable"])
def test_wheel_ships_pth_at_root(built_wheels, kind):
    names, record, _, pth = _wheel_record(built_wheels[kind])
    assert PTH_NAME in names, names
    assert pth == (REPO_ROOT / PTH_NAME).read_bytes()
    assert record[PTH_NAME][0].startswith("sha256=")  # listed -> uninstallable
    if kind == "regular":
        assert "espnet_dynprune/__init__.py" in names
        assert "espnet_dynprune/_import_hook.py" in names
        # conf/ (the drop-in configs the benchmark builds) travels as espnet_dynprune/conf
        assert {f"espnet_dynprune/conf/{p.name}" for p in (REPO_ROOT / "conf").glob("*.yaml")} <= set(names)
    else:  # editable: hatchling's own path .pth (sorts first), package stays in the source
        assert "_espnet_dynprune.pth" in names and sorted(n for n in names if n.endswith(".pth"))[0] != PTH_NAME
        assert "espnet_dynprune/__init__.py" not in names


def test_wheel_metadata(built_wheels):
    from packaging.requirements import Requirement

    _, _, metadata, _ = _wheel_record(built_wheels["regular"])
    lines = metadata.splitlines()
    assert "Name: espnet-dynprune" in lines
    assert "Version: 0.1.0" in lines
    assert "Requires-Python: <3.14,>=3.11" in lines or "Requires-Python: >=3.11,<3.14" in lines
    requires = {
        r.name: r for r in map(Requirement, (ln.split(":", 1)[1] for ln in lines if ln.startswith("Requires-Dist:")))
    }
    # ranges, not pins: both supported ESPnet releases, the torch/torchaudio both accept
    for name, inside, outside in [
        ("espnet", ["202511", "202611"], ["202506", "202612"]),
        ("torch", ["2.11.0", "2.11.1"], ["2.10.0", "2.12.0"]),
        ("torchaudio", ["2.11.0"], ["2.10.0", "2.12.0"]),
    ]:
        assert all(v in requires[name].specifier for v in inside), requires[name]
        assert not any(v in requires[name].specifier for v in outside), requires[name]
    for name in ["fvcore", "jiwer", "sacrebleu", "sentencepiece", "tensorboard", "matplotlib", "typeguard"]:
        assert name in requires, requires
    assert "pytest" in requires and "extra" in str(requires["pytest"].marker), requires


@pytest.mark.parametrize("kind", ["regular", "editable"])
def test_install_into_fresh_venv(built_wheels, kind, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", py]
    _run(pip + ["install", "--no-deps", "--no-index", built_wheels[kind]])
    site = Path(
        _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .stdout.strip()
    )
    assert (site / PTH_NAME).read_bytes() == (REPO_ROOT / PTH_NAME).read_bytes()

    out = _run([py, "-c", CHECK_HOOK], cwd=tmp_path).stdout.split()
    assert out == ["True", "True", "False", "False"]
    where = _run([py, "-c", "import espnet_dynprune; print(espnet_dynprune.__file__)"],
                 cwd=tmp_path).stdout.strip()
    expected_root = site if kind == "regular" else built_wheels["src"]
    assert Path(where).resolve().is_relative_to(expected_root.resolve())

    disabled = _run([py, "-c", CHECK_HOOK], cwd=tmp_path,
                    env=_clean_env(**{hook.ENV_DISABLE: "1"})).stdout.split()
    assert disabled == ["False", "False", "False", "False"]

    _run(pip + ["uninstall", "-y", "espnet-dynprune"])
    assert not (site / PTH_NAME).exists()
    assert _run([py, "-c", CHECK_HOOK], cwd=tmp_path).stdout.split()[0] == "False"


# --------------------------------------------------------------------------
# Start-up cost of the live .pth in *this* interpreter (make venv installs it).
# --------------------------------------------------------------------------

STARTUP_RUNS = 15
MAX_OVERHEAD_S = 0.050


def _startup_time(env):
    import time

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, cwd="/", check=True)
    return time.perf_counter() - start


def _hook_live(env):
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; print('espnet_dynprune._import_hook' in sys.modules)"],
        env=env, cwd="/", capture_output=True, text=True, check=True,
    )
    return proc.stdout.strip() == "True"


def test_startup_overhead_below_50ms():
    enabled = _clean_env()
    disabled = _clean_env(**{hook.ENV_DISABLE: "1"})
    if not _hook_live(enabled):
        pytest.fail(
            f"{PTH_NAME} is not active for {sys.executable}; "
            "install the project first (`make venv` / `pip install --no-deps -e .`)"
        )
    assert not _hook_live(disabled)

    for env in (enabled, disabled):  # warm the page cache
        _startup_time(env)
    with_hook, without_hook = [], []
    for _ in range(STARTUP_RUNS):  # interleave to share any system noise
        with_hook.append(_startup_time(enabled))
        without_hook.append(_startup_time(disabled))
    overhead = min(with_hook) - min(without_hook)
    print(
        f"python -c pass: min with hook {min(with_hook) * 1e3:.2f} ms, "
        f"disabled {min(without_hook) * 1e3:.2f} ms, "
        f"overhead {overhead * 1e3:.2f} ms"
    )
    assert overhead < MAX_OVERHEAD_S, (with_hook, without_hook)


def test_import_package_does_not_import_torch():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; import espnet_dynprune; print('torch' in sys.modules)"],
        env=_clean_env(), cwd=str(REPO_ROOT), capture_output=True, text=True, check=True,
    )
    assert proc.stdout.strip() == "False", proc.stderr
