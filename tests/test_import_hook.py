"""Tests for espnet_dynprune._import_hook (the lazy auto-registration hook).

In-process tests register fake watched modules written to ``tmp_path``; they
never import ESPnet.  How the installed ``espnet_dynprune.pth`` activates the
hook at start-up: test_import_hook_pth.py.
"""

import importlib
import importlib.util
import py_compile
import sys
import textwrap
import uuid
from importlib.machinery import SourceFileLoader, SourcelessFileLoader
from pathlib import Path

import pytest

from espnet_dynprune import _import_hook as hook


@pytest.fixture
def hook_state():
    """Snapshot/restore the hook table, what was warned about and whether the finder is installed."""
    saved = {name: list(cbs) for name, cbs in hook._hooks.items()}
    saved_warned = set(hook._warned)
    hook._warned.clear()
    was_installed = hook.is_installed()
    yield
    hook._warned.clear()
    hook._warned.update(saved_warned)
    hook._hooks.clear()
    hook._hooks.update(saved)
    if was_installed:
        hook.install()
    else:
        hook.uninstall()


@pytest.fixture
def installed(hook_state, monkeypatch):
    monkeypatch.delenv(hook.ENV_DISABLE, raising=False)
    assert hook.install() is True
    assert hook.is_installed()
    return hook


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    """Write a uniquely named module to tmp_path; yield its name and path."""
    name = f"fake_watched_mod_{uuid.uuid4().hex[:10]}"
    path = tmp_path / f"{name}.py"
    path.write_text(
        textwrap.dedent(
            """
            import sys
            VALUE = 42

            def answer():
                return VALUE

            # what the module body itself sees as its loader
            LOADER_SEEN_INSIDE = __loader__
            SPEC_LOADER_SEEN_INSIDE = __spec__.loader
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield name, path
    sys.modules.pop(name, None)


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, module):
        self.calls.append(
            {
                "module": module,
                "name": module.__name__,
                "value": getattr(module, "VALUE", None),
                "answer": module.answer() if hasattr(module, "answer") else None,
                "loader": module.__spec__.loader,
                "in_sys_modules": sys.modules.get(module.__name__) is module,
            }
        )


def test_default_table():
    assert hook.DEFAULT_HOOKS == (
        ("espnet2.tasks.abs_task", "espnet_dynprune.nets.safe_loading:guard_espnet"),
        ("espnet2.tasks.s2t", "espnet_dynprune.registration:register_s2t"),
        ("espnet2.tasks.asr", "espnet_dynprune.registration:register_asr"),
        (
            "espnet2.bin.s2t_inference",
            "espnet_dynprune.registration:install_speech2text",
        ),
        (
            "espnet_dynprune.inference.speech2text",
            "espnet_dynprune.registration:speech2text_imported",
        ),
    )
    table = hook.watched()
    for name, callback in hook.DEFAULT_HOOKS:
        assert callback in table[name]


def test_callback_runs_once_after_import(installed, fake_module):
    name, path = fake_module
    rec = Recorder()
    hook.register(name, rec)
    assert rec.calls == []  # not imported yet -> nothing happens

    module = importlib.import_module(name)
    assert len(rec.calls) == 1
    call = rec.calls[0]
    # the callback sees the fully executed module, already in sys.modules
    assert call["module"] is module
    assert call["name"] == name
    assert call["value"] == 42 and call["answer"] == 42
    assert call["in_sys_modules"]

    # loader stays sane: the real loader, inside the module body and after
    assert isinstance(module.__spec__.loader, SourceFileLoader)
    assert module.__loader__ is module.__spec__.loader
    assert module.LOADER_SEEN_INSIDE is module.__loader__
    assert module.SPEC_LOADER_SEEN_INSIDE is module.__loader__
    assert module.__file__ == str(path)
    assert call["loader"] is module.__loader__

    # importing again is a sys.modules hit: no second call
    importlib.import_module(name)
    __import__(name)
    assert len(rec.calls) == 1


def test_string_callback_is_resolved_lazily(installed, fake_module, tmp_path):
    name, _ = fake_module
    cb_mod = f"fake_callbacks_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{cb_mod}.py").write_text(
        "SEEN = []\ndef cb(module):\n    SEEN.append(module.VALUE)\n"
    )
    hook.register(name, f"{cb_mod}:cb")
    assert cb_mod not in sys.modules  # not imported at registration time
    try:
        importlib.import_module(name)
        assert sys.modules[cb_mod].SEEN == [42]
    finally:
        sys.modules.pop(cb_mod, None)


def test_source_then_bytecode_then_sourceless(installed, fake_module, tmp_path):
    name, path = fake_module
    rec = Recorder()
    hook.register(name, rec)

    importlib.import_module(name)  # from source
    assert len(rec.calls) == 1
    assert rec.calls[0]["value"] == 42

    # Bytecode via SourceFileLoader: an unchecked-hash .pyc in __pycache__ is
    # used without looking at the source, so compile it from a variant of
    # the source to prove the code really came from the .pyc.
    del sys.modules[name]
    source = path.read_text()
    path.write_text(source.replace("VALUE = 42", "VALUE = 1000"))
    cached = Path(importlib.util.cache_from_source(str(path)))
    py_compile.compile(
        str(path),
        cfile=str(cached),
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        doraise=True,
    )
    path.write_text(source)
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    assert module.VALUE == 1000
    assert isinstance(module.__spec__.loader, SourceFileLoader)
    assert len(rec.calls) == 2
    assert rec.calls[1]["value"] == 1000

    # Bytecode only (SourcelessFileLoader): legacy .pyc where the source was.
    del sys.modules[name]
    py_compile.compile(str(path), cfile=str(tmp_path / f"{name}.pyc"), doraise=True)
    path.unlink()
    cached.unlink()
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    assert len(rec.calls) == 3
    assert isinstance(module.__spec__.loader, SourcelessFileLoader)
    assert module.__loader__ is module.__spec__.loader
    assert rec.calls[2]["answer"] == 42


def test_submodule_of_package(installed, tmp_path, monkeypatch):
    pkg = f"fake_pkg_{uuid.uuid4().hex[:10]}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / pkg / "tasks.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    rec = Recorder()
    hook.register(f"{pkg}.tasks", rec)
    try:
        module = importlib.import_module(f"{pkg}.tasks")
        assert [c["value"] for c in rec.calls] == [7]
        assert rec.calls[0]["module"] is module
        assert isinstance(module.__loader__, SourceFileLoader)
    finally:
        for key in [k for k in sys.modules if k == pkg or k.startswith(pkg + ".")]:
            del sys.modules[key]


def test_multiple_callbacks_run_in_order(installed, fake_module):
    name, _ = fake_module
    order = []
    hook.register(name, lambda m: order.append(("first", m.VALUE)))
    hook.register(name, lambda m: order.append(("second", m.VALUE)))
    importlib.import_module(name)
    assert order == [("first", 42), ("second", 42)]


def test_unwatched_module_untouched(installed, fake_module):
    name, _ = fake_module
    assert name not in hook.watched()
    module = importlib.import_module(name)
    assert isinstance(module.__spec__.loader, SourceFileLoader)


def test_reload_runs_callback_again(installed, fake_module):
    name, _ = fake_module
    rec = Recorder()
    hook.register(name, rec)
    module = importlib.import_module(name)
    reloaded = importlib.reload(module)
    assert reloaded is module
    assert len(rec.calls) == 2
    assert isinstance(module.__spec__.loader, SourceFileLoader)


def test_failing_callback_warns_once_and_leaves_the_host_module_working(installed, fake_module):
    name, _ = fake_module
    calls = []

    def broken(module):
        raise ValueError("boom from callback")

    hook.register(name, broken)
    hook.register(name, broken)  # a second failure of the same cause
    hook.register(name, lambda module: calls.append(module))  # later callbacks still run
    with pytest.warns(hook.AutoRegistrationWarning) as record:
        module = importlib.import_module(name)
    assert len(record) == 1, [str(w.message) for w in record]
    message = str(record[0].message)
    assert name in message
    assert "broken" in message
    assert "boom from callback" in message
    assert hook.ENV_DISABLE in message
    assert sys.modules[name] is module and calls == [module]


def test_unresolvable_string_callback_warns(installed, fake_module):
    name, _ = fake_module
    hook.register(name, "no_such_module_for_dynprune_tests:register")
    with pytest.warns(hook.AutoRegistrationWarning, match="no_such_module_for_dynprune_tests:register"):
        importlib.import_module(name)
    assert name in sys.modules


def test_explicit_register_on_an_imported_module_raises(installed, fake_module):
    name, _ = fake_module
    importlib.import_module(name)

    def broken(module):
        raise ValueError("boom from callback")

    with pytest.raises(hook.AutoRegistrationError, match="boom from callback") as excinfo:
        hook.register(name, broken)
    assert isinstance(excinfo.value.__cause__, ValueError)


def test_bad_callback_arguments(hook_state):
    with pytest.raises(ValueError):
        hook.register("whatever_mod", "no_colon_here")
    with pytest.raises(TypeError):
        hook.register("whatever_mod", 42)
    assert "whatever_mod" not in hook.watched()


def test_unregister(hook_state, fake_module):
    name, _ = fake_module
    rec = Recorder()
    hook.register(name, rec)
    assert hook.unregister(name, rec) == 1
    assert name not in hook.watched()
    assert hook.unregister(name) == 0


def test_already_imported_module_runs_callback_on_install(
    hook_state, fake_module, monkeypatch
):
    monkeypatch.delenv(hook.ENV_DISABLE, raising=False)
    name, _ = fake_module
    hook.uninstall()
    assert not hook.is_installed()
    module = importlib.import_module(name)  # imported before the hook exists
    rec = Recorder()
    hook.register(name, rec)
    assert rec.calls == []  # hook not installed -> nothing runs yet

    assert hook.install() is True
    assert len(rec.calls) == 1 and rec.calls[0]["module"] is module
    # the existing module object is left alone, loader untouched
    assert sys.modules[name] is module
    assert isinstance(module.__spec__.loader, SourceFileLoader)

    # install() is idempotent and does not re-run callbacks
    assert hook.install() is True
    assert len(rec.calls) == 1
    assert sum(1 for f in sys.meta_path if isinstance(f, hook.AutoRegisterFinder)) == 1


def test_register_on_installed_hook_runs_for_imported_module(installed, fake_module):
    name, _ = fake_module
    module = importlib.import_module(name)
    rec = Recorder()
    hook.register(name, rec)
    assert len(rec.calls) == 1 and rec.calls[0]["module"] is module


def test_disabled_by_env_var(hook_state, fake_module, monkeypatch):
    name, _ = fake_module
    hook.uninstall()
    monkeypatch.setenv(hook.ENV_DISABLE, "1")
    rec = Recorder()
    hook.register(name, rec)
    assert hook.install() is False
    assert not hook.is_installed()
    importlib.import_module(name)
    assert rec.calls == []


@pytest.mark.parametrize(
    "value, disabled",
    [
        (None, False),
        ("", False),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
    ],
)
def test_is_disabled_values(value, disabled):
    environ = {} if value is None else {hook.ENV_DISABLE: value}
    assert hook.is_disabled(environ) is disabled


@pytest.mark.parametrize("position", ["before", "after"])
def test_no_recursion_with_delegating_finder(installed, fake_module, position):
    """Another finder that, like ours, asks the other sys.meta_path finders
    (but has no re-entry guard of its own) must neither loop with ours nor
    cause the module to be wrapped twice, whichever comes first."""
    name, _ = fake_module

    class DelegatingFinder:
        def __init__(self):
            self.calls = 0

        def find_spec(self, fullname, path=None, target=None):
            if fullname != name:
                return None
            self.calls += 1
            assert self.calls < 10, "recursion between finders"
            for finder in list(sys.meta_path):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    return spec
            return None

    other = DelegatingFinder()
    ours = next(f for f in sys.meta_path if isinstance(f, hook.AutoRegisterFinder))
    index = sys.meta_path.index(ours)
    sys.meta_path.insert(index if position == "before" else index + 1, other)
    try:
        rec = Recorder()
        hook.register(name, rec)
        module = importlib.import_module(name)
    finally:
        sys.meta_path.remove(other)
    assert other.calls >= 1
    assert len(rec.calls) == 1
    assert rec.calls[0]["module"] is module
    assert isinstance(module.__spec__.loader, SourceFileLoader)
    assert module.__loader__ is module.__spec__.loader


def test_callback_may_import_its_module(installed, fake_module):
    name, _ = fake_module
    seen = []

    def cb(module):
        seen.append(importlib.import_module(name) is module)

    hook.register(name, cb)
    importlib.import_module(name)
    assert seen == [True]


def test_hook_module_imports_nothing_heavy():
    source = Path(hook.__file__).read_text()
    top_level_imports = [
        line.strip()
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    ]
    assert top_level_imports == ["import _thread", "import os", "import sys"]
