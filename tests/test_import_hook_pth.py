"""Tests for espnet_dynprune.pth: the hook as the installed .pth activates it at start-up.

Each test runs a fresh interpreter, the only way to see what start-up does.
"""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from espnet_dynprune import _import_hook as hook

PTH_FILE = Path(__file__).resolve().parents[1] / "espnet_dynprune.pth"


def _run(code, env_extra=None, cwd=None):
    env = dict(os.environ)
    env.pop(hook.ENV_DISABLE, None)
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return proc


def _pth_active():
    proc = _run(
        "import sys; print('espnet_dynprune._import_hook' in sys.modules)",
        cwd="/",
    )
    return proc.stdout.strip() == "True"


@pytest.fixture
def require_pth():
    if not _pth_active():
        pytest.fail(
            "espnet_dynprune.pth is not active in this interpreter "
            f"({sys.executable}); run `pip install --no-deps -e .` (make venv)"
        )


def test_pth_line_matches_is_disabled():
    """The .pth hard-codes the 'enabled' values; they must match the module."""
    text = PTH_FILE.read_text()
    code_lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(code_lines) == 1 and code_lines[0].startswith("import ")
    tree = ast.parse(code_lines[0])
    strings = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    tuples = [
        ast.literal_eval(node) for node in ast.walk(tree) if isinstance(node, ast.Tuple)
    ]
    assert tuples == [hook._ENABLED_VALUES]
    assert hook.ENV_DISABLE in strings
    assert "espnet_dynprune._import_hook" in strings


def test_fresh_interpreter_fake_module(require_pth, tmp_path):
    (tmp_path / "fake_watched_mod.py").write_text("VALUE = 'hello'\n")
    (tmp_path / "fake_callbacks.py").write_text(
        "CALLS = []\ndef cb(module):\n    CALLS.append(module.VALUE)\n"
    )
    code = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, {path!r})
        h = sys.modules["espnet_dynprune._import_hook"]   # loaded by the .pth
        assert h.is_installed()
        h.register("fake_watched_mod", "fake_callbacks:cb")
        import fake_watched_mod, fake_callbacks
        import fake_watched_mod
        print(fake_callbacks.CALLS, type(fake_watched_mod.__loader__).__name__)
        """
    ).format(path=str(tmp_path))
    proc = _run(code, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['hello'] SourceFileLoader"


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_fresh_interpreter_disabled(require_pth, value):
    proc = _run(
        "import sys; print('espnet_dynprune._import_hook' in sys.modules, "
        "any(type(f).__name__ == 'AutoRegisterFinder' for f in sys.meta_path))",
        env_extra={hook.ENV_DISABLE: value},
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False False"


@pytest.mark.parametrize("value", ["0", "", "off"])
def test_fresh_interpreter_enabled_values(require_pth, value):
    proc = _run(
        "import sys; print('espnet_dynprune._import_hook' in sys.modules)",
        env_extra={hook.ENV_DISABLE: value},
        cwd="/",
    )
    assert proc.stdout.strip() == "True", proc.stderr


def test_fresh_interpreter_start_up_is_light(require_pth):
    proc = _run(
        "import sys; import espnet_dynprune; "
        "print(sorted(m for m in ('torch', 'numpy', 'espnet', 'espnet2', "
        "'importlib.abc', 'typing') if m in sys.modules))",
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_importing_the_subclass_first_still_installs_it(require_pth):
    proc = _run(
        "from espnet_dynprune.inference.speech2text import DynPruneSpeech2Text; "
        "import espnet2.bin.s2t_inference as inference; print(inference.Speech2Text is DynPruneSpeech2Text)",
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True" and "AutoRegistrationWarning" not in proc.stderr


def test_a_registration_that_cannot_work_leaves_espnet_working_with_one_warning(require_pth):
    """As when the plugin meets an ESPnet whose classes moved: registration fails, ESPnet does not."""
    proc = _run(
        "import sys, warnings; sys.modules['espnet_dynprune.nets.espnet_compat'] = None; "
        "warnings.simplefilter('always'); "
        "import espnet2.tasks.s2t as s2t, espnet2.tasks.asr as asr, espnet2.bin.s2t_inference as inference; "
        "print('e_branchformer' in s2t.encoder_choices.classes, 'e_branchformer_dynprune' in s2t.encoder_choices.classes, "
        "inference.Speech2Text.__module__)",
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True False espnet2.bin.s2t_inference"
    warned = [line for line in proc.stderr.splitlines() if "AutoRegistrationWarning" in line]
    assert len(warned) == 1 and "espnet_dynprune is not available in this ESPnet" in warned[0], proc.stderr
